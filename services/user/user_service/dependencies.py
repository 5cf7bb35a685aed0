"""FastAPI dependencies of the user service, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from sandbox_common.app import from_state
from sandbox_common.auth import CurrentPrincipal
from sandbox_common.db import request_session
from user_service import service
from user_service.hashing import PasswordHashing
from user_service.models import User
from user_service.throttle import LoginThrottle

SessionDep = Annotated[AsyncSession, Depends(request_session)]
CeleryDep = Annotated[Celery, Depends(from_state("celery"))]
ThrottleDep = Annotated[LoginThrottle, Depends(from_state("throttle"))]
PolicyDep = Annotated[service.TokenPolicy, Depends(from_state("token_policy"))]
HashingDep = Annotated[PasswordHashing, Depends(from_state("hashing"))]


async def _current_user(principal: CurrentPrincipal, session: SessionDep) -> User:
    return await service.get_active_user(session=session, user_id=principal.user_id)


CurrentUser = Annotated[User, Depends(_current_user)]
