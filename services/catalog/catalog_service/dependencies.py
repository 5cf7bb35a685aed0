"""FastAPI dependencies of the catalog, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from catalog_service.cache import ProductCache
from sandbox_common.app import from_state
from sandbox_common.db import read_connection, request_session

SessionDep = Annotated[AsyncSession, Depends(request_session)]
# Reads of one statement each: no transaction around them, no ORM (read_engine).
ReadConnectionDep = Annotated[AsyncConnection, Depends(read_connection)]
ReadEngineDep = Annotated[AsyncEngine, Depends(from_state("read_engine"))]
CacheDep = Annotated[ProductCache, Depends(from_state("cache"))]
CeleryDep = Annotated[Celery, Depends(from_state("celery"))]
