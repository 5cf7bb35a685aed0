from __future__ import annotations

from typing import Literal

from pydantic import Field

from sandbox_common.settings import CommonSettings


class ActivitySettings(CommonSettings):
    port: int = 8003
    mongo_url: str
    mongo_database: str = "activity"
    activity_retention_days: int = Field(default=30, ge=1)
    activity_expiry: Literal["auto", "ttl", "purge"] = "auto"
    catalog_timeout_seconds: float = Field(default=0.5, gt=0, le=10)
