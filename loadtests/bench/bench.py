"""Throughput bench: a cached product read on the catalog against a bare baseline.

    make bench                    # needs the local stack (make local-up) and wrk
    python loadtests/bench/bench.py --duration 20s --connections 64 --output docs/performance.md

Three servers, each started fresh, one at a time, with the local stack's
environment (same PostgreSQL, same Redis) and one uvicorn process:

1. bare:  ``bare_app.py``, a raw ASGI callable doing the same Redis read as
          the catalog's product cache (MGET of entry and generation);
2. catalog with observability on (request metrics and access logs, as deployed);
3. catalog with observability off (``create_app(observe=False)``).

All three answer ``GET /api/v1/products/{id}`` for one product that is in the
cache. wrk drives each one after a warm-up, several times; the median run is
reported. On a machine with at least two cores the server is pinned to the
first core and wrk to the others, so they do not fight over one CPU.

The results go to a Markdown page (machine, versions, method, figures, ratios)
and the raw wrk output to loadtests/results/bench-<timestamp>/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

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


def fail(message: str) -> None:
    print(f"[bench] error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
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
    return WrkRun(
        rps=float(rps.group(1)),
        p50_ms=_to_ms(percentiles.get("50", "0ms")),
        p90_ms=_to_ms(percentiles.get("90", "0ms")),
        p99_ms=_to_ms(percentiles.get("99", "0ms")),
        errors=errors,
        raw=output,
    )


def run_wrk(url: str, args: argparse.Namespace, duration: str, cpus: str | None) -> WrkRun:
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
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return parse_wrk(done.stdout)


# --- servers --------------------------------------------------------------


def start_server(
    scenario: Scenario, port: int, env: dict[str, str], log: Path, cpus: str | None
) -> subprocess.Popen[bytes]:
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


# --- facts about the machine ----------------------------------------------


def _command_output(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def machine_facts(redis_url: str) -> dict[str, str]:
    cpu = ""
    for line in _command_output("lscpu").splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    os_name = platform.platform()
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    redis_version = ""
    try:
        import redis

        redis_version = str(redis.Redis.from_url(redis_url).info("server").get("redis_version"))
    except Exception as error:
        redis_version = f"unknown ({error.__class__.__name__})"
    facts = {
        "CPU": f"{cpu or platform.processor()} ({os.cpu_count()} logical cores)",
        "Memory": memory,
        "OS": f"{os_name}, kernel {platform.release()}",
        "Python": platform.python_version(),
        "wrk": _command_output("wrk", "-v").splitlines()[0] if shutil.which("wrk") else "",
        "Redis server": redis_version,
    }
    for package in ("uvicorn", "uvloop", "httptools", "fastapi", "starlette", "pydantic", "redis"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


# --- the report -----------------------------------------------------------


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "n/a"


def render(
    outcomes: dict[str, Outcome],
    facts: dict[str, str],
    args: argparse.Namespace,
    pinned: tuple[str | None, str | None],
    product_id: str,
    body_size: int,
) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Performance: a cached product read",
        "",
        "Generated by `make bench` (loadtests/bench/bench.py); run it again to refresh.",
        f"Measured {now}.",
        "",
        "## What is measured",
        "",
        "`GET /api/v1/products/{id}` for one product that sits in Redis, served by:",
        "",
        "- **bare**: a raw ASGI callable (loadtests/bench/bare_app.py) doing the same Redis",
        "  read as the catalog's product cache (one MGET of the entry and its generation)",
        "  and returning the entry. No framework, no middleware, no metrics, no logs.",
        "- **catalog, observability on**: the catalog service as deployed (request metrics,",
        "  one JSON access log line per request, request ids).",
        "- **catalog, observability off**: the same app built with `observe=False`",
        "  (no request metrics, no access log; request ids stay).",
        "",
        f"Each server is one uvicorn process started fresh against the local stack's Redis and "
        f"PostgreSQL. wrk: {args.threads} thread(s), {args.connections} connections, "
        f"{args.warmup} warm-up then {args.repeat} run(s) of {args.duration}; the median run "
        f"by throughput is shown. Response body: {body_size} bytes (product {product_id}).",
    ]
    server_cpus, wrk_cpus = pinned
    if server_cpus:
        lines.append(f"Server pinned to CPU {server_cpus}, wrk to CPU {wrk_cpus} (taskset).")
    else:
        lines.append("Server and wrk share the CPUs (not pinned): figures are pessimistic.")
    lines += ["", "## Machine and versions", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in facts.items()]
    lines += [
        "",
        "## Figures",
        "",
        "| server | req/s | p50 ms | p90 ms | p99 ms | errors | runs (req/s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for outcome in outcomes.values():
        m = outcome.median
        runs = ", ".join(f"{run.rps:.0f}" for run in outcome.runs)
        lines.append(
            f"| {outcome.scenario.title} | {m.rps:.0f} | {m.p50_ms:.2f} | {m.p90_ms:.2f} "
            f"| {m.p99_ms:.2f} | {m.errors} | {runs} |"
        )
    bare = outcomes["bare"].median.rps if "bare" in outcomes else 0.0
    on = outcomes["on"].median.rps if "on" in outcomes else 0.0
    off = outcomes["off"].median.rps if "off" in outcomes else 0.0
    lines += [
        "",
        "## Ratios",
        "",
        "| comparison | ratio of req/s |",
        "|---|---:|",
        f"| catalog (observability on) / bare | {ratio(on, bare)} |",
        f"| catalog (observability off) / bare | {ratio(off, bare)} |",
        f"| observability on / off | {ratio(on, off)} |",
        "",
        "The gap between bare and catalog (off) is the cost of the framework: routing,",
        "dependency injection, validation and response building. The gap between off and",
        "on is the cost of request metrics and access logging.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="20s", help="wrk duration of one run")
    parser.add_argument("--warmup", default="5s", help="wrk warm-up before the runs")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server; the median counts")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="wrk threads (default: wrk's CPUs)")
    parser.add_argument("--port", type=int, default=18200, help="port of the server under test")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and wrk to CPUs")
    parser.add_argument(
        "--only", action="append", choices=[s.key for s in SCENARIOS], help="run only these"
    )
    parser.add_argument("--output", default="docs/performance.md")
    args = parser.parse_args(argv)

    if not shutil.which("wrk"):
        fail("wrk not found; install it (Debian: apt-get install wrk)")
    if not STACK_ENV.exists():
        fail(".local/stack.env not found: start the local stack first (make local-up)")
    stack_env = read_env_file(STACK_ENV)
    env = {**os.environ, **stack_env}
    redis_url = env.get("SANDBOX_REDIS_URL")
    if not redis_url:
        fail("SANDBOX_REDIS_URL is not in the stack's environment")
    env["BENCH_REDIS_URL"] = redis_url
    catalog = env.get("SANDBOX_CATALOG_URL", "http://127.0.0.1:8002").rstrip("/")

    status, body = http_get(f"{catalog}/api/v1/products?limit=1")
    items = json.loads(body).get("items") if status == 200 else None
    if not items:
        fail(f"no product at {catalog}/api/v1/products (HTTP {status}); run make seed")
    product_id = str(items[0]["id"])
    path = f"/api/v1/products/{product_id}"
    # One read through the running catalog fills the cache for every server.
    status, body = http_get(catalog + path)
    if status != 200:
        fail(f"GET {path} answered {status}")

    cores = os.cpu_count() or 1
    server_cpus = wrk_cpus = None
    if cores >= 2 and not args.no_pin and shutil.which("taskset"):
        server_cpus, wrk_cpus = "0", f"1-{cores - 1}" if cores > 2 else "1"
    if args.threads <= 0:
        args.threads = max(1, cores - 1) if server_cpus else max(1, cores)

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = ROOT / "loadtests" / "results" / f"bench-{stamp}"
    results.mkdir(parents=True, exist_ok=True)

    outcomes: dict[str, Outcome] = {}
    for scenario in SCENARIOS:
        if args.only and scenario.key not in args.only:
            continue
        url = f"http://127.0.0.1:{args.port}{path}"
        say(f"{scenario.title}: starting on port {args.port}")
        process = start_server(
            scenario, args.port, env, results / f"{scenario.key}-server.log", server_cpus
        )
        try:
            wait_for(url, process)
            run_wrk(url, args, args.warmup, wrk_cpus)
            runs = []
            for index in range(args.repeat):
                run = run_wrk(url, args, args.duration, wrk_cpus)
                (results / f"{scenario.key}-wrk-{index + 1}.txt").write_text(run.raw)
                say(f"  run {index + 1}: {run.rps:.0f} req/s, p99 {run.p99_ms:.2f} ms")
                runs.append(run)
            outcomes[scenario.key] = Outcome(scenario, runs)
        finally:
            stop_server(process)

    facts = machine_facts(redis_url)
    report = render(outcomes, facts, args, (server_cpus, wrk_cpus), product_id, len(body))
    output = ROOT / args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report, encoding="utf-8")
    (results / "performance.md").write_text(report, encoding="utf-8")
    say(f"wrote {args.output} (raw output in {results.relative_to(ROOT)})")
    if any(run.errors for outcome in outcomes.values() for run in outcome.runs):
        fail("some requests failed during the bench; see the wrk output")
    medians = {key: statistics.median(r.rps for r in o.runs) for key, o in outcomes.items()}
    say("median req/s: " + ", ".join(f"{key} {value:.0f}" for key, value in medians.items()))


if __name__ == "__main__":
    main()
