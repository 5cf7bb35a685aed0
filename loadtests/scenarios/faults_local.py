"""Faults on the local stack (``make local-up``), through scripts/stack.py:
the same process table, the same spawn and stop as ``make local-up``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from sandbox_common.topology import SERVICE_PORTS, WORKER_METRICS_PORT

ROOT = Path(__file__).resolve().parents[2]


def stack() -> Any:
    """scripts/stack.py as a module."""
    scripts = str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.append(scripts)
    import stack as module

    return module


def _wait(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} not back after {timeout:.0f}s; see .local/logs/")


def _ready(url: str) -> Callable[[], bool]:
    return lambda: stack().http_ok(url)


def start_service(service: str, **env: str) -> None:
    """Start a service of the stack as ``make local-up`` does, with ``env`` on top."""
    s = stack()
    s.spawn(
        service,
        [str(s.BIN / "sandbox-serve"), service],
        s.process_env(s.make_plan(), SANDBOX_PORT=str(SERVICE_PORTS[service]), **env),
    )
    _wait(service, _ready(f"http://127.0.0.1:{SERVICE_PORTS[service]}/readyz"))


def start_worker() -> None:
    s = stack()
    s.spawn(
        "worker",
        [str(s.BIN / "sandbox-worker")],
        s.process_env(s.make_plan(), SANDBOX_METRICS_PORT=str(WORKER_METRICS_PORT)),
    )
    _wait("worker", _ready(f"http://127.0.0.1:{WORKER_METRICS_PORT}/readyz"))


def unused_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Fault:
    """Injected, held, removed; ``describe`` says what was done, for the report."""

    describe = ""

    def inject(self) -> None:
        raise NotImplementedError

    def remove(self) -> None:
        raise NotImplementedError


class CacheCut(Fault):
    """The catalog loses its cache: restarted with its Redis at an address
    where nothing answers (the broker, a separate setting, is untouched)."""

    def __init__(self) -> None:
        self.describe = (
            "catalog restarted with SANDBOX_REDIS_URL at a port where nothing "
            "listens; restarted with its own settings after the hold"
        )

    # A restart, not a shutdown: no waiting for the load's keep-alive
    # connections to close (SIGKILL after 2 s).
    def inject(self) -> None:
        stack().stop("catalog", timeout=2)
        start_service("catalog", SANDBOX_REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0")

    def remove(self) -> None:
        stack().stop("catalog", timeout=2)
        start_service("catalog")


class WorkerKilled(Fault):
    describe = "the Celery worker killed with SIGKILL mid-stream; started again after the hold"

    def inject(self) -> None:
        s = stack()
        pid = s.running_pid("worker")
        if pid is None:
            raise RuntimeError("no worker runs: start the stack (make local-up)")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _wait("worker gone", lambda: not s._alive(pid), 10)
        s.pid_file("worker").unlink(missing_ok=True)

    def remove(self) -> None:
        start_worker()


class ServiceStopped(Fault):
    def __init__(self, service: str) -> None:
        self.service = service
        self.describe = f"the {service} service stopped (SIGTERM); started again after the hold"

    def inject(self) -> None:
        stack().stop(self.service)

    def remove(self) -> None:
        start_service(self.service)


class RedisStopped(Fault):
    describe = (
        "Redis stopped (SIGTERM; it is the broker, and the cache and login throttle "
        "too); started again after the hold with its append-only file"
    )

    def inject(self) -> None:
        stack().stop("redis")

    def remove(self) -> None:
        s = stack()
        s.start_redis(s.make_plan())


class PostgresSlow(Fault):
    """PostgreSQL frozen for ``stopped`` of every ``period`` seconds (SIGSTOP,
    then SIGCONT, to the server and every backend): each query waits, the
    pools fill, nothing fails outright."""

    def __init__(self, stopped: float = 0.8, period: float = 1.0) -> None:
        self.stopped, self.period = stopped, period
        self.describe = (
            f"PostgreSQL frozen {stopped * 1000:.0f} ms of every "
            f"{period * 1000:.0f} ms (SIGSTOP/SIGCONT to the server and its "
            "backends); thawed after the hold"
        )
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def _pids(self) -> list[int]:
        marker = stack().RUN / "postgres.datadir"
        if not marker.exists():
            raise RuntimeError("the stack's PostgreSQL is not running (or is not the stack's)")
        postmaster = int(
            (Path(marker.read_text().strip()) / "postmaster.pid").read_text().split()[0]
        )
        pids = [postmaster]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                        pids.append(int(entry.name))
        return pids

    def _signal(self, signum: int) -> None:
        for pid in self._pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _cycle(self) -> None:
        while not self._halt.is_set():
            self._signal(signal.SIGSTOP)
            self._halt.wait(self.stopped)
            self._signal(signal.SIGCONT)
            self._halt.wait(self.period - self.stopped)
        self._signal(signal.SIGCONT)

    def inject(self) -> None:
        self._pids()  # fails now, not in the thread
        self._halt.clear()
        self._thread = threading.Thread(target=self._cycle, name="postgres-slow", daemon=True)
        self._thread.start()

    def remove(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._signal(signal.SIGCONT)


class LoginStorm(Fault):
    """Logins as fast as ``clients`` clients can send them, each a password
    hash; one of them keeps getting one account's password wrong."""

    def __init__(self, user_url: str, clients: int = 12) -> None:
        self.user_url, self.clients = user_url, clients
        self.describe = (
            f"{clients} clients logging in back to back (right passwords), one "
            "more getting a password wrong over and over"
        )
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sent: dict[int, int] = {}
        self._lock = threading.Lock()

    def _account(self, client: httpx.Client) -> tuple[str, str]:
        email = f"storm-{os.urandom(6).hex()}@example.com"
        password = f"storm password {os.urandom(4).hex()}"
        client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": password, "display_name": "Storm"},
        )
        return email, password

    def _hammer(self, wrong: bool) -> None:
        with httpx.Client(base_url=self.user_url, timeout=30) as client:
            email, password = self._account(client)
            if wrong:
                password = "not the password"
            while not self._halt.is_set():
                try:
                    status = client.post(
                        "/api/v1/auth/token", data={"username": email, "password": password}
                    ).status_code
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.sent[status] = self.sent.get(status, 0) + 1

    def inject(self) -> None:
        self._halt.clear()
        self._threads = [
            threading.Thread(target=self._hammer, args=(i == 0,), daemon=True)
            for i in range(self.clients + 1)
        ]
        for thread in self._threads:
            thread.start()

    def remove(self) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(timeout=40)
        answered = ", ".join(
            f"{status or 'no answer'}: {n}" for status, n in sorted(self.sent.items())
        )
        self.describe += f" (the storm's logins by status: {answered})"
