from __future__ import annotations

from pydantic import Field

from sandbox_common.settings import CommonSettings


class CatalogSettings(CommonSettings):
    port: int = 8002
    catalog_database_url: str
    product_cache_ttl_seconds: int = Field(default=300, ge=1)
