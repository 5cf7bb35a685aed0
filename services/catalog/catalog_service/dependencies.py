"""FastAPI dependencies of the catalog, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_service.cache import ProductCache
from sandbox_common.batching import EventPublisher
from sandbox_common.db import request_session


async def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def _cache(request: Request) -> ProductCache:
    cache: ProductCache = request.app.state.cache
    return cache


async def _celery(request: Request) -> Celery:
    celery: Celery = request.app.state.celery
    return celery


async def _event_publisher(request: Request) -> EventPublisher:
    publisher: EventPublisher = request.app.state.event_publisher
    return publisher


# Every dependency is `async def`: FastAPI runs a plain `def` in a thread pool,
# which on the cached read path cost more than the Redis read itself.
SessionDep = Annotated[AsyncSession, Depends(request_session)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
CacheDep = Annotated[ProductCache, Depends(_cache)]
CeleryDep = Annotated[Celery, Depends(_celery)]
EventPublisherDep = Annotated[EventPublisher, Depends(_event_publisher)]
