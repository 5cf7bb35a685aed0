from sandbox_common.migrate import run_migrations
from user_service.models import Base

run_migrations(Base.metadata)
