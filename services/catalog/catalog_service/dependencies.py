"""FastAPI dependencies of the catalog, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_service.cache import ProductCache
from sandbox_common.app import from_state
from sandbox_common.db import request_session

SessionDep = Annotated[AsyncSession, Depends(request_session)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(from_state("sessions"))]
CacheDep = Annotated[ProductCache, Depends(from_state("cache"))]
CeleryDep = Annotated[Celery, Depends(from_state("celery"))]
