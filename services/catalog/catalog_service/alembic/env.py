from catalog_service.models import Base
from sandbox_common.migrate import run_migrations

run_migrations(Base.metadata)
