"""The user service's app: ``sandbox-serve user`` runs :func:`create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from sandbox_common.app import create_app as create_service_app
from sandbox_common.auth import StaticKeySource, TokenVerifier
from sandbox_common.celery import connect_signals, create_celery
from sandbox_common.db import create_async_db, ping, session_factory
from sandbox_common.health import ReadinessCheck
from sandbox_common.logging import get_logger
from sandbox_common.migrate import check_schema, head_revision
from sandbox_common.outbox import drain_kicks
from sandbox_common.redis import create_redis
from sandbox_common.startup import in_background
from user_service import security, service
from user_service.config import UserSettings
from user_service.hashing import PasswordHashing
from user_service.router import auth, jwks, users
from user_service.security import TokenSigner
from user_service.throttle import LoginThrottle

_log = get_logger(__name__)


async def _bootstrap_admin(app: FastAPI, settings: UserSettings) -> None:
    """Create the first admin if it is absent."""
    if settings.admin_email is None or settings.admin_password is None:
        return
    async with app.state.sessions() as session:
        created = await service.ensure_admin(
            session=session,
            hashing=app.state.hashing,
            email=settings.admin_email,
            password=settings.admin_password.get_secret_value(),
        )
    if created:
        _log.info("first admin created")


def create_app(settings: UserSettings | None = None) -> FastAPI:
    settings = settings or UserSettings()  # type: ignore[call-arg]
    security.configure_hashing(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )
    signer = TokenSigner.from_files(
        settings.jwt_private_key_file,
        previous_public_keys_file=settings.jwt_previous_public_keys_file,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_db(settings.user_database_url, database="users")
        redis = create_redis(settings.redis_url)
        connect_signals()
        app.state.engine = engine
        app.state.redis = redis
        app.state.sessions = session_factory(engine)
        app.state.celery = create_celery(settings, main="user")
        app.state.throttle = LoginThrottle(
            redis,
            max_per_account=settings.login_max_failures,
            max_per_client=settings.login_max_failures_per_client,
            window_seconds=settings.login_window_seconds,
        )
        try:
            async with in_background(
                lambda: _bootstrap_admin(app, settings), what="admin bootstrap"
            ):
                yield
        finally:
            await drain_kicks()
            await redis.aclose()
            await engine.dispose()

    # Unready while the database is behind this code (the migration runs first).
    schema_head = head_revision("user")

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        return {
            "postgres": lambda: ping(app.state.engine),
            "schema": lambda: check_schema(app.state.engine, schema_head),
            "redis": app.state.redis.ping,
        }

    app = create_service_app(
        service="user",
        settings=settings,
        routers=[auth, users, jwks],
        readiness_checks=readiness,
        lifespan=lifespan,
    )
    app.state.hashing = PasswordHashing(
        concurrency=settings.password_hash_concurrency,
        max_waiting=settings.password_hash_max_waiting,
        max_wait_seconds=settings.password_hash_max_wait_seconds,
    )
    app.state.token_policy = service.TokenPolicy(
        signer=signer, refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds)
    )
    app.state.token_verifier = TokenVerifier(
        StaticKeySource(signer.verification_keys()),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return app
