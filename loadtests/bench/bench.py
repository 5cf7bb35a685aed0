"""Throughput bench: every figure of the sandbox against its baseline, in one run.

    make bench          # needs the local stack (make local-up, make seed) and wrk
    python loadtests/bench/bench.py --duration 20s --connections 64 --output docs/performance.md

1. A cached product read (``GET /api/v1/products/{id}``) through the catalog
   against a bare ASGI app doing the same Redis read (bare_app.py). Each
   server is one uvicorn process started fresh with the local stack's
   environment; wrk drives it after a warm-up, several times; the median run
   counts. With two cores or more the server is pinned to the first core and
   wrk to the others.
2. The same catalog with observability (request metrics, access logs) on and
   off (apps.py).
3. Event ingestion end to end (POST /api/v1/activity/events, Celery on Redis,
   MongoDB) in events/s as stored, against pymongo ``insert_many`` of the same
   documents into the same server (ingest.py).
4. The full mixed Locust workload: the highest request rate with an
   aggregated p95 under 100 ms and no failure, found by a short stepwise
   search with Locust pinned to one core (mixed.py, locust_steps.py).

The results go to a Markdown page (machine, versions, method, figures, ratios,
commands) and the raw output to loadtests/results/bench-<timestamp>/. A
benchmark prints figures; it never fails a build over them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import ingest
import mixed
from ingest import IngestResult
from summary import Step, best_and_failed, kept_section

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


# --- facts about the machine ----------------------------------------------


def _command_output(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def machine_facts(redis_url: str, mongo_url: str = "") -> dict[str, str]:
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
        "MongoDB-protocol server": ingest.mongo_server_version(mongo_url) if mongo_url else "",
    }
    packages = ("uvicorn", "uvloop", "httptools", "fastapi", "starlette", "pydantic", "redis",
                "celery", "kombu", "pymongo", "httpx", "locust")  # fmt: skip
    for package in packages:
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


# --- the code under test ----------------------------------------------------


def code_state() -> str:
    """The commit, the tree of services/, and a digest of uncommitted changes under it.

    Servers are started from the working tree, so an edit during a run would
    change what later phases measure; the bench checks this before each one.
    """
    import hashlib

    commit = _command_output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD") or "?"
    tree = _command_output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD:services")
    diff = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "diff", "HEAD", "--", "services"],  # noqa: S607
        capture_output=True,
        check=False,
    ).stdout
    state = f"commit {commit}, services/ tree {tree or '?'}"
    if not diff:
        return state + " as committed"
    files = diff.count(b"\ndiff --git ") + (1 if diff.startswith(b"diff --git ") else 0)
    digest = hashlib.sha1(diff, usedforsecurity=False).hexdigest()[:12]
    return f"{state} + uncommitted changes in {files} file(s) (diff {digest})"


def _services_part(state: str) -> str:
    """What identifies the code under test: the state without the commit."""
    return state.split(", ", 1)[-1]


def check_code(report: Report, phase: str) -> None:
    now = code_state()
    if _services_part(now) != _services_part(report.code):
        report.code_changes.append(f"before {phase}: {now}")
        report.code = now
        say(f"warning: services/ changed during the run ({now})")


# --- the report -----------------------------------------------------------


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "n/a"


@dataclass
class Report:
    args: argparse.Namespace
    facts: dict[str, str]
    commands: list[str] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    pinned: tuple[str | None, str | None] = (None, None)
    product_id: str = ""
    body_size: int = 0
    ingest: IngestResult | None = None
    ingest_error: str = ""
    steps: list[Step] = field(default_factory=list)
    locust_cpus: str | None = None
    starved: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    kept: str = ""
    code: str = ""
    code_changes: list[str] = field(default_factory=list)


def render_read(report: Report) -> list[str]:
    args, outcomes = report.args, report.outcomes
    lines = [
        "## 1 and 2. A cached product read; observability on and off",
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
        f"by throughput is shown. Response body: {report.body_size} bytes "
        f"(product {report.product_id}).",
    ]
    server_cpus, wrk_cpus = report.pinned
    if server_cpus:
        lines.append(f"Server pinned to CPU {server_cpus}, wrk to CPU {wrk_cpus} (taskset).")
    else:
        lines.append("Server and wrk share the CPUs (not pinned): figures are pessimistic.")
    lines += [
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
    bare = outcomes["bare"].median if "bare" in outcomes else None
    on = outcomes["on"].median if "on" in outcomes else None
    off = outcomes["off"].median if "off" in outcomes else None

    def rps(run: WrkRun | None) -> float:
        return run.rps if run else 0.0

    def p99(run: WrkRun | None) -> float:
        return run.p99_ms if run else 0.0

    lines += [
        "",
        "| comparison | ratio | target | met |",
        "|---|---:|---|---|",
        f"| req/s: catalog (observability on) / bare | {ratio(rps(on), rps(bare))} | ≥ 0.60 "
        f"| {_met(rps(on), rps(bare), lambda r: r >= 0.6)} |",
        f"| p99: catalog (observability on) / bare | {ratio(p99(on), p99(bare))} | ≤ 3.0 "
        f"| {_met(p99(on), p99(bare), lambda r: r <= 3.0)} |",
        f"| req/s: catalog (observability off) / bare | {ratio(rps(off), rps(bare))} | | |",
        f"| req/s: observability on / off | {ratio(rps(on), rps(off))} | ≥ 0.90 "
        f"| {_met(rps(on), rps(off), lambda r: r >= 0.9)} |",
        "",
        "The gap between bare and catalog (off) is the cost of the framework: routing,",
        "dependency injection, validation and response building. The gap between off and",
        "on is the cost of request metrics and access logging.",
        "",
    ]
    return lines


def _met(numerator: float, denominator: float, check: Any) -> str:
    if not numerator or not denominator:
        return "n/a"
    return "yes" if check(numerator / denominator) else "**no**"


def render_ingest(report: Report) -> list[str]:
    lines = ["## 3. Event ingestion end to end", ""]
    result = report.ingest
    if result is None:
        return [*lines, f"Not measured: {report.ingest_error or 'skipped'}.", ""]
    lines += [
        f"{result.events} events POSTed to `/api/v1/activity/events` (one bench account, "
        f"bearer token) by {result.clients} concurrent clients (httpx, one process), "
        "after a warm-up. The API answers 202 once the event is on the broker; the",
        "service batches a burst into one Celery task, the worker stores it with",
        "`insert_many`. **Stored events/s** = events counted in MongoDB (by the run's own",
        "`object_id`, polled every 100 ms; one count took up to "
        f"{result.count_seconds * 1000:.0f} ms on this server) / seconds from the first POST",
        "until a count returned the number accepted. **Baseline**: the same stored documents "
        "with fresh",
        f"event ids, written by pymongo `insert_many` in batches of {result.raw_batch} "
        "(`ordered=False`) by one client into the same collection of the same server.",
        f"The run's documents were deleted afterwards (object ids `{result.run_id}-*`).",
        "",
        "| path | events | seconds | events/s |",
        "|---|---:|---:|---:|",
        f"| API → Celery on Redis → MongoDB (stored) | {result.stored} "
        f"| {result.stored_seconds:.2f} | {result.api_rate:.0f} |",
        f"| API accepted (202), same run | {result.accepted} | {result.post_seconds:.2f} "
        f"| {result.accept_rate:.0f} |",
        f"| raw pymongo `insert_many` (baseline) | {result.raw_events} "
        f"| {result.raw_seconds:.2f} | {result.raw_rate:.0f} |",
        "",
        f"Ratio stored events/s, API path / raw insert_many: "
        f"**{ratio(result.api_rate, result.raw_rate)}**. "
        f"POST latency p50 {result.post_p50_ms:.1f} ms, p99 {result.post_p99_ms:.1f} ms; "
        f"{result.rejected} POST(s) not accepted.",
    ]
    lines += [f"Note: {note}." for note in result.notes]
    return [*lines, ""]


def render_mixed(report: Report) -> list[str]:
    args = report.args
    lines = ["## 4. The full mixed Locust workload", ""]
    if not report.steps:
        return [*lines, "Not measured (skipped).", ""]
    pin = (
        f"Locust pinned to CPU {report.locust_cpus} (`taskset -c {report.locust_cpus}`); "
        "the stack's processes run unpinned on every core, so they share that core with it."
        if report.locust_cpus
        else "Locust not pinned (one core only, or --no-pin)."
    )
    lines += [
        "The load test's users (anonymous browsers, shoppers, admins; loadtests/users/) and",
        "data preparation, run headless against the local stack, one step per user count:",
        "all users spawned within 5 s; once spawned, at least "
        f"{args.settle:g} s and until no login for 3 s, then the statistics are reset and the",
        f"load held for {args.step_measure:g} s (loadtests/bench/locust_steps.py): a step's "
        "figures cover the held load, not the ramp and the start-up logins (argon2id).",
        f"A step passes when no request failed and the aggregated p95 is under "
        f"{args.p95_limit:g} ms. Users double while steps pass and halve while they fail; "
        f"once a pass and a failure bracket the limit, one midpoint is tried. {pin}",
        "",
        "| users | req/s | p50 ms | p95 ms | p99 ms | requests | failures | verdict "
        "| slowest route (p95 ms, share of requests) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for step in report.steps:
        a = step.aggregate
        if a is None:
            lines.append(f"| {step.users} | | | | | | | no figures | |")
            continue
        verdict = "pass" if step.passed(args.p95_limit) else "fail"
        slow = step.slowest
        slowest = (
            f"`{slow.name}` ({slow.p95_ms:.0f}, {100 * slow.requests / a.requests:.1f} %)"
            if slow and a.requests
            else ""
        )
        lines.append(
            f"| {step.users} | {a.rps:.1f} | {a.p50_ms:.0f} | {a.p95_ms:.0f} | {a.p99_ms:.0f} "
            f"| {a.requests} | {a.failures} | {verdict} | {slowest} |"
        )
    reasons = [
        f"- {step.users} users: "
        + "; ".join(f"{f.occurrences} x `{f.route}`: {f.error[:140]}" for f in step.failures[:3])
        for step in report.steps
        if step.failures
    ]
    if reasons:
        lines += ["", "Failed requests by step (Locust's failures CSV, most frequent first):", ""]
        lines += reasons
    best, failed = best_and_failed(report.steps, args.p95_limit)
    lines.append("")
    if best and best.aggregate:
        lines.append(
            f"**Highest sustained rate: {best.aggregate.rps:.1f} req/s** at {best.users} users "
            f"(p95 {best.aggregate.p95_ms:.0f} ms, no failures)."
        )
    else:
        lowest = min(report.steps, key=lambda s: s.users)
        lines.append(
            f"**No step passed**: down to {lowest.users} users every step missed the limit."
        )
    if failed and failed.aggregate:
        why = []
        if failed.aggregate.p95_ms >= args.p95_limit:
            why.append(f"p95 {failed.aggregate.p95_ms:.0f} ms")
        if failed.aggregate.failures:
            why.append(f"{failed.aggregate.failures} failed requests")
        lines.append(
            f"First failed step: {failed.users} users, {failed.aggregate.rps:.1f} req/s "
            f"({', '.join(why) or 'no requests'})."
        )
    elif failed:
        lines.append(f"First failed step: {failed.users} users (Locust produced no figures).")
    else:
        lines.append("No step failed within the search's limits (raise --max-users).")
    if report.starved:
        lines.append(
            "Locust warned that its own CPU was saturated at "
            + ", ".join(str(u) for u in report.starved)
            + " users: those figures are bounded by the load generator too."
        )
    return [*lines, ""]


def render(report: Report) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Performance",
        "",
        "Generated by `make bench` (loadtests/bench/bench.py), every figure against its",
        "baseline in one run on one machine; run it again to refresh. Benchmarks print",
        "figures; they do not gate CI.",
        f"Measured {now}.",
        "",
        "## Machine and versions",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in report.facts.items()]
    lines.append("")
    if report.code_changes:
        lines += [
            "**The code under test changed during this run**, so phases after the change "
            "ran other code than those before it:",
            "",
            *[f"- {change}" for change in report.code_changes],
            "",
        ]
    if report.outcomes:
        lines += render_read(report)
    lines += render_ingest(report)
    lines += render_mixed(report)
    if report.kept:
        lines += [report.kept]
    if report.missing:
        lines += ["## Missing figures", ""]
        lines += [f"- {item}" for item in report.missing]
        lines.append("")
    lines += [
        "## Commands",
        "",
        "The bench, as run (stack started with `make local-up`, catalog seeded with",
        "`make seed`):",
        "",
        "```",
        *report.commands,
        "```",
        "",
    ]
    return "\n".join(lines)


# --- phases ---------------------------------------------------------------


def run_read(report: Report, env: dict[str, str], catalog: str, results: Path) -> None:
    args = report.args
    status, body = http_get(f"{catalog}/api/v1/products?limit=1")
    items = json.loads(body).get("items") if status == 200 else None
    if not items:
        fail(f"no product at {catalog}/api/v1/products (HTTP {status}); run make seed")
    report.product_id = str(items[0]["id"])
    path = f"/api/v1/products/{report.product_id}"
    # One read through the running catalog fills the cache for every server.
    status, body = http_get(catalog + path)
    if status != 200:
        fail(f"GET {path} answered {status}")
    report.body_size = len(body)

    cores = os.cpu_count() or 1
    server_cpus = wrk_cpus = None
    if cores >= 2 and not args.no_pin and shutil.which("taskset"):
        server_cpus, wrk_cpus = "0", f"1-{cores - 1}" if cores > 2 else "1"
    if args.threads <= 0:
        args.threads = max(1, cores - 1) if server_cpus else max(1, cores)
    report.pinned = (server_cpus, wrk_cpus)

    for scenario in SCENARIOS:
        if args.only and scenario.key not in args.only:
            continue
        url = f"http://127.0.0.1:{args.port}{path}"
        refill_cache(env["BENCH_REDIS_URL"], report.product_id, catalog + path)
        check_code(report, scenario.title)
        say(f"{scenario.title}: starting on port {args.port}")
        command = server_command(scenario, args.port, server_cpus)
        report.commands.append(f"# {scenario.title}\n{shlex.join(command)}")
        report.commands.append(shlex.join(wrk_command(url, args, args.duration, wrk_cpus)))
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
            report.outcomes[scenario.key] = Outcome(scenario, runs)
        finally:
            stop_server(process)


def refill_cache(redis_url: str, product_id: str, catalog_url: str) -> None:
    """Drop the product's cache entry and read it through the catalog, which fills it
    again with a full TTL, so the entry cannot expire while a server is measured
    (the bare app does not fill the cache; a miss is a 404 there)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(f"catalog:product:{product_id}")
        status, _ = http_get(catalog_url)
        if status != 200 or not client.exists(f"catalog:product:{product_id}"):
            fail(f"cannot fill the cache through {catalog_url} (HTTP {status})")
    finally:
        client.close()


def run_ingest(report: Report, env: dict[str, str]) -> None:
    args = report.args
    try:
        report.ingest = ingest.run(
            user_url=env.get("SANDBOX_USER_URL", "http://127.0.0.1:8001").rstrip("/"),
            activity_url=env.get("SANDBOX_ACTIVITY_URL", "http://127.0.0.1:8003").rstrip("/"),
            mongo_url=env["SANDBOX_MONGO_URL"],
            database=env.get("SANDBOX_MONGO_DATABASE", "activity"),
            events=args.ingest_events,
            clients=args.ingest_clients,
            say=say,
        )
    except Exception as error:
        report.ingest_error = f"{error.__class__.__name__}: {error}"
        report.missing.append(f"event ingestion: {report.ingest_error}")
        say(f"ingestion failed: {report.ingest_error}")
    report.commands.append(
        "# event ingestion (in bench.py, loadtests/bench/ingest.py): "
        f"{args.ingest_events} events, {args.ingest_clients} clients"
    )


def run_mixed(report: Report, env: dict[str, str], results: Path) -> None:
    args = report.args
    cores = os.cpu_count() or 1
    cpus = None
    if cores >= 2 and not args.no_pin and shutil.which("taskset"):
        cpus = str(cores - 1)
    report.locust_cpus = cpus
    steps, commands, starved = mixed.search(
        locust=str(BIN / "locust"),
        measure_seconds=args.step_measure,
        results=results,
        cpus=cpus,
        env=env,
        start=args.step_start,
        max_steps=args.max_steps,
        max_users=args.max_users,
        min_users=args.min_users,
        p95_limit_ms=args.p95_limit,
        settle_seconds=args.settle,
        say=say,
    )
    report.steps, report.starved = steps, starved
    report.commands.append("# mixed workload, one command per step")
    report.commands.extend(commands)


PHASES = ["bare", "on", "off", "ingest", "mixed"]
# Written by hand from loadtests/bench/profile_catalog.py; kept when the page is regenerated.
PROFILE_HEADING = "What the profile shows"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="20s", help="wrk duration of one run")
    parser.add_argument("--warmup", default="5s", help="wrk warm-up before the runs")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server; the median counts")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="wrk threads (default: wrk's CPUs)")
    parser.add_argument("--port", type=int, default=18200, help="port of the server under test")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--ingest-events", type=int, default=3000)
    parser.add_argument("--ingest-clients", type=int, default=32)
    parser.add_argument(
        "--step-measure", type=float, default=30.0, help="s measured per step, after settling"
    )
    parser.add_argument("--step-start", type=int, default=20, help="users of the first step")
    parser.add_argument("--max-steps", type=int, default=7)
    parser.add_argument("--max-users", type=int, default=3000)
    parser.add_argument("--min-users", type=int, default=5)
    parser.add_argument("--p95-limit", type=float, default=100.0, help="ms, aggregated p95")
    parser.add_argument("--settle", type=float, default=10.0, help="s after spawning, then reset")
    parser.add_argument("--only", action="append", choices=PHASES, help="run only these")
    parser.add_argument("--skip", action="append", choices=PHASES, default=[])
    parser.add_argument("--output", default="docs/performance.md")
    args = parser.parse_args(argv)
    wanted = [p for p in PHASES if (not args.only or p in args.only) and p not in args.skip]
    args.only = wanted

    if not shutil.which("wrk") and any(p in wanted for p in ("bare", "on", "off")):
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

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = ROOT / "loadtests" / "results" / f"bench-{stamp}"
    results.mkdir(parents=True, exist_ok=True)

    report = Report(args=args, facts={})
    report.code = code_state()
    started_with = report.code
    python = os.path.relpath(sys.executable, ROOT)
    report.commands.append(shlex.join([python, sys.argv[0], *sys.argv[1:]]))
    if any(p in wanted for p in ("bare", "on", "off")):
        run_read(report, env, catalog, results)
    else:
        report.missing.append("cached read and observability: skipped in this run")
    if "ingest" in wanted:
        check_code(report, "event ingestion")
        run_ingest(report, env)
    else:
        report.missing.append("event ingestion: skipped in this run")
    if "mixed" in wanted:
        check_code(report, "the mixed workload")
        run_mixed(report, env, results)
    else:
        report.missing.append("mixed Locust workload: skipped in this run")

    check_code(report, "the end of the run")
    report.facts = {
        "Code (at start)": started_with,
        **machine_facts(redis_url, env.get("SANDBOX_MONGO_URL", "")),
    }
    output = ROOT / args.output
    if output.exists():
        report.kept = kept_section(output.read_text(encoding="utf-8"), PROFILE_HEADING)
    text = render(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    (results / "performance.md").write_text(text, encoding="utf-8")
    say(f"wrote {args.output} (raw output in {results.relative_to(ROOT)})")
    if any(run.errors for outcome in report.outcomes.values() for run in outcome.runs):
        say("warning: some wrk requests failed; see the wrk output")


if __name__ == "__main__":
    main()
