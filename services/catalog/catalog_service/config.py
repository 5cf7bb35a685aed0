from __future__ import annotations

from pydantic import Field

from sandbox_common.settings import CommonSettings, EnvSettings
from sandbox_common.topology import SERVICE_PORTS


class CatalogDatabaseSettings(EnvSettings):
    """What the catalog's tasks, migrations and seed need."""

    catalog_database_url: str


class CatalogSettings(CommonSettings, CatalogDatabaseSettings):
    port: int = SERVICE_PORTS["catalog"]
    product_cache_ttl_seconds: int = Field(default=300, ge=1)
