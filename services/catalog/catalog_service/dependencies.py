"""FastAPI dependencies of the catalog, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_service.cache import ProductCache
from sandbox_common.app import from_state
from sandbox_common.db import read_session, request_session

SessionDep = Annotated[AsyncSession, Depends(request_session)]
# Reads of one statement each: no transaction around them (read_session_factory).
ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]
ReadSessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(from_state("read_sessions"))]
CacheDep = Annotated[ProductCache, Depends(from_state("cache"))]
CeleryDep = Annotated[Celery, Depends(from_state("celery"))]
