"""FastAPI dependencies of the catalog, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_service.cache import ProductCache
from sandbox_common.batching import BatchPublisher
from sandbox_common.db import request_session


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


def _cache(request: Request) -> ProductCache:
    cache: ProductCache = request.app.state.cache
    return cache


def _celery(request: Request) -> Celery:
    celery: Celery = request.app.state.celery
    return celery


def _events(request: Request) -> BatchPublisher:
    events: BatchPublisher = request.app.state.events
    return events


SessionDep = Annotated[AsyncSession, Depends(request_session)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
CacheDep = Annotated[ProductCache, Depends(_cache)]
CeleryDep = Annotated[Celery, Depends(_celery)]
EventsDep = Annotated[BatchPublisher, Depends(_events)]
