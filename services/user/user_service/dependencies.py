"""FastAPI dependencies of the user service, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from sandbox_common.auth import CurrentPrincipal
from sandbox_common.db import request_session
from user_service import service
from user_service.models import User
from user_service.throttle import LoginThrottle


async def _celery(request: Request) -> Celery:
    celery: Celery = request.app.state.celery
    return celery


async def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.throttle
    return throttle


async def _policy(request: Request) -> service.TokenPolicy:
    policy: service.TokenPolicy = request.app.state.token_policy
    return policy


SessionDep = Annotated[AsyncSession, Depends(request_session)]
CeleryDep = Annotated[Celery, Depends(_celery)]
ThrottleDep = Annotated[LoginThrottle, Depends(_throttle)]
PolicyDep = Annotated[service.TokenPolicy, Depends(_policy)]


async def _current_user(principal: CurrentPrincipal, session: SessionDep) -> User:
    return await service.get_active_user(session=session, user_id=principal.user_id)


CurrentUser = Annotated[User, Depends(_current_user)]
