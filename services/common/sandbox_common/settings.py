"""Settings shared by every process, read once from the environment at start.

Each service subclasses :class:`CommonSettings` with its own fields. What a
service's Celery tasks need is a smaller :class:`EnvSettings` of the service's
config (its database, say) that the service's Settings also inherit, so the
worker takes exactly the values the service would, checked the same way. Nothing
here has a default that would work as a secret: required values have no
default, and production refuses development shortcuts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandbox_common.topology import local_url


class EnvSettings(BaseSettings):
    """Environment → settings, one way: ``SANDBOX_<FIELD>``. Variables are
    documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore", frozen=True)


class RedisSettings(EnvSettings):
    redis_url: str


class CommonSettings(RedisSettings):
    """What every service, the worker and beat read."""

    env: Literal["local", "production"] = "production"
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    host: str = "0.0.0.0"  # noqa: S104 - a container's server listens on every interface
    port: int = 8000
    web_concurrency: int = Field(default=1, ge=1)
    # How long an idle keep-alive connection stays open. Longer than any
    # client waits between two requests on one connection (the load test's
    # users wait up to 15 s): a server that closes a connection just as its
    # client reuses it fails that request with a reset (uvicorn's own default
    # is 5 s).
    keep_alive_seconds: int = Field(default=75, ge=1)

    broker_url: str
    broker_visibility_timeout: int = Field(default=120, ge=10)
    redeliver_after_seconds: int = Field(default=600, ge=5)

    user_url: str = local_url("user")
    catalog_url: str = local_url("catalog")
    jwt_issuer: str = "sandbox-user"
    jwt_audience: str = "sandbox"

    @property
    def jwks_url(self) -> str:
        return f"{self.user_url.rstrip('/')}/.well-known/jwks.json"

    @model_validator(mode="after")
    def _log_level_is_known(self) -> CommonSettings:
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown SANDBOX_LOG_LEVEL {self.log_level!r}")
        return self
