from __future__ import annotations

from typing import Literal

from pydantic import Field

from sandbox_common.settings import CommonSettings, RedisSettings
from sandbox_common.topology import SERVICE_PORTS


class ActivityStoreSettings(RedisSettings):
    """What the activity tasks need: the event store, and Redis for trending."""

    mongo_url: str
    mongo_database: str = "activity"
    activity_retention_days: int = Field(default=30, ge=1)
    activity_expiry: Literal["auto", "ttl", "purge"] = "auto"


class ActivitySettings(CommonSettings, ActivityStoreSettings):
    port: int = SERVICE_PORTS["activity"]
    catalog_timeout_seconds: float = Field(default=0.5, gt=0, le=10)
