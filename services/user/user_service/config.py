from __future__ import annotations

import math
import os
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from sandbox_common.settings import CommonSettings, EnvSettings
from sandbox_common.topology import SERVICE_PORTS
from user_service import security

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may use: those it may run on, capped by its
    cgroup's CPU quota (a container's CPU limit), at least one. (Here, not in
    user_service.hashing: settings are read before prometheus-client may be
    imported.)"""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota here
    return max(1, cores)


class UserDatabaseSettings(EnvSettings):
    """What the user service's tasks and migrations need."""

    user_database_url: str


class UserSettings(CommonSettings, UserDatabaseSettings):
    port: int = SERVICE_PORTS["user"]
    jwt_private_key_file: Path
    jwt_previous_public_keys_file: Path | None = None
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=300)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=50, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    password_hash_time_cost: int = Field(default=security.TIME_COST, ge=1)
    password_hash_memory_kib: int = Field(default=security.MEMORY_KIB, ge=8 * 1024)
    password_hash_parallelism: int = Field(default=security.PARALLELISM, ge=1, le=16)
    # Hashing's bounds (user_service.hashing): hashes at once (default: the
    # cores this process may use), callers waiting, and the longest wait
    # before a 503 with Retry-After.
    password_hash_concurrency: int = Field(default_factory=usable_cpus, ge=1, le=64)
    password_hash_max_waiting: int = Field(default=32, ge=0)
    password_hash_max_wait_seconds: float = Field(default=2.0, gt=0, le=30)
    admin_email: str | None = None
    admin_password: SecretStr | None = None

    @model_validator(mode="after")
    def _admin_is_complete(self) -> UserSettings:
        if (self.admin_email is None) != (self.admin_password is None):
            raise ValueError("set both SANDBOX_ADMIN_EMAIL and SANDBOX_ADMIN_PASSWORD, or neither")
        if self.admin_password is not None:
            minimum = 8 if self.env == "local" else 12
            if len(self.admin_password.get_secret_value()) < minimum:
                raise ValueError(f"SANDBOX_ADMIN_PASSWORD must have at least {minimum} characters")
        return self
