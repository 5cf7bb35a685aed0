"""The servers under test and wrk: starting, waiting for and stopping one uvicorn
process per scenario, the wrk command, and the figures read from wrk's output.

Also the bench's console messages and the local stack's environment
(.local/stack.env, read with the parser of scripts/stack.py, which writes it).
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STACK_ENV = ROOT / ".local" / "stack.env"
BIN = Path(sys.executable).parent


@dataclass
class Scenario:
    key: str
    title: str
    app: str
    factory: bool
    extra_env: dict[str, str] = field(default_factory=dict)


SCENARIOS = [
    Scenario("bare", "bare ASGI app + redis.asyncio", "bare_app:app", factory=False),
    Scenario("on", "catalog, observability on", "apps:catalog_observed", factory=True),
    Scenario("off", "catalog, observability off", "apps:catalog_unobserved", factory=True),
]


@dataclass
class WrkRun:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    raw: str
    requests: int = 0
    # CPU time (user + system) the server process spent per request answered,
    # when it was measured.
    server_cpu_us: float | None = None


@dataclass
class Outcome:
    scenario: Scenario
    runs: list[WrkRun]

    @property
    def median(self) -> WrkRun:
        ordered = sorted(self.runs, key=lambda run: run.rps)
        return ordered[len(ordered) // 2]


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def fail(message: str) -> NoReturn:
    print(f"[bench] error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def stack_env() -> dict[str, str]:
    """The variables the local stack started its processes with."""
    if not STACK_ENV.exists():
        fail(".local/stack.env not found: start the local stack first (make local-up)")
    scripts = str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.append(scripts)
    import stack

    values: dict[str, str] = stack.read_env_file(STACK_ENV)
    return values


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local URLs only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# --- wrk ------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkRun:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps:
        raise ValueError("wrk printed no Requests/sec")
    percentiles = dict(re.findall(r"^\s+(50|90|99)(?:\.000)?%\s+(\S+)", output, re.MULTILINE))
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        errors += sum(int(value) for value in sockets.groups())
    requests = re.search(r"(\d+) requests in ", output)
    return WrkRun(
        requests=int(requests.group(1)) if requests else 0,
        rps=float(rps.group(1)),
        p50_ms=_to_ms(percentiles.get("50", "0ms")),
        p90_ms=_to_ms(percentiles.get("90", "0ms")),
        p99_ms=_to_ms(percentiles.get("99", "0ms")),
        errors=errors,
        raw=output,
    )


def wrk_command(url: str, args: argparse.Namespace, duration: str, cpus: str | None) -> list[str]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}",
        "--latency",
        url,
    ]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    return command


def run_wrk(url: str, args: argparse.Namespace, duration: str, cpus: str | None) -> WrkRun:
    command = wrk_command(url, args, duration, cpus)
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return parse_wrk(done.stdout)


# --- servers --------------------------------------------------------------


def server_command(scenario: Scenario, port: int, cpus: str | None) -> list[str]:
    command = [
        str(BIN / "uvicorn"),
        scenario.app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--app-dir",
        str(HERE),
    ]
    if scenario.factory:
        command.append("--factory")
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    return command


def start_server(
    scenario: Scenario, port: int, env: dict[str, str], log: Path, cpus: str | None
) -> subprocess.Popen[bytes]:
    command = server_command(scenario, port, cpus)
    handle = log.open("wb")
    return subprocess.Popen(  # noqa: S603
        command,
        env={**env, **scenario.extra_env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"the server for {url} exited with {process.returncode}; see its log")
        try:
            status, _ = http_get(url, timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    fail(f"{url} did not answer 200 within {timeout:.0f} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
