"""Where the running local stack is, and how to reach into it."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK_ENV = ROOT / ".local" / "stack.env"


def stack_env() -> dict[str, str]:
    values = stack_module().read_env_file(STACK_ENV)
    # The environment wins: tests can point at servers started elsewhere.
    values.update({k: v for k, v in os.environ.items() if k.startswith("SANDBOX_")})
    return values


def stack_module():  # type: ignore[no-untyped-def]
    """scripts/stack.py, to stop and start processes of the local stack."""
    scripts = str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    import stack

    return stack


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
