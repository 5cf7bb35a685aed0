"""Where the load goes and who it logs in as.

Locally the three services listen on their own ports; in the cluster one
gateway routes by path prefix. Every request is therefore built from a base
URL per service, resolved here once per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sandbox_common.topology import SERVICES, local_url

REPO_ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS_FILE = REPO_ROOT / ".local" / "credentials.env"

LOCAL_DEFAULTS = {service: local_url(service) for service in SERVICES}


@dataclass(frozen=True)
class Targets:
    """Base URL of each service, without a trailing slash."""

    user: str
    catalog: str
    activity: str

    @property
    def gateway(self) -> bool:
        return self.user == self.catalog == self.activity


def resolve_targets(host: str | None, env: dict[str, str] | None = None) -> Targets:
    """A gateway host (``--host``) wins; otherwise one URL per service.

    The per-service variables are the ones the services themselves read, so a
    shell that runs the local stack already points the load at it.
    """
    if host:
        base = host.rstrip("/")
        return Targets(user=base, catalog=base, activity=base)
    env = os.environ if env is None else env
    urls = {
        name: env.get(f"SANDBOX_{name.upper()}_URL") or default
        for name, default in LOCAL_DEFAULTS.items()
    }
    return Targets(**{name: url.rstrip("/") for name, url in urls.items()})


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines; blank lines, comments and an ``export`` prefix are allowed."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def admin_credentials(
    env: dict[str, str] | None = None, credentials_file: Path = CREDENTIALS_FILE
) -> Credentials | None:
    """The first admin, from the environment or else the local stack's credentials file."""
    env = os.environ if env is None else env
    email = env.get("SANDBOX_ADMIN_EMAIL")
    password = env.get("SANDBOX_ADMIN_PASSWORD")
    if not (email and password) and credentials_file.is_file():
        stored = parse_env_file(credentials_file.read_text(encoding="utf-8"))
        email = email or stored.get("SANDBOX_ADMIN_EMAIL")
        password = password or stored.get("SANDBOX_ADMIN_PASSWORD")
    if email and password:
        return Credentials(email=email, password=password)
    return None


# Pool accounts are load-test fixtures, not secrets: every run derives the same
# email and password from the index, so an account registered by an earlier run
# logs in with the password it was registered with and never counts as a failed
# login towards the throttle.
ACCOUNT_DOMAIN = "loadtest.example.com"


def pool_account(index: int, password_base: str | None = None) -> Credentials:
    base = password_base or os.environ.get("LOADTEST_ACCOUNT_PASSWORD") or "loadtest-account"
    return Credentials(
        email=f"lt-user-{index:04d}@{ACCOUNT_DOMAIN}", password=f"{base}-pool-{index:04d}"
    )
