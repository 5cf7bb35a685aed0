"""The mixed Locust workload: the highest request rate this machine sustains with
an aggregated p95 under the limit (100 ms) and no failed request.

A stepwise search against the running local stack: each step is one headless
Locust run (loadtests/bench/locust_steps.py, i.e. the load test's users and
shape) at a fixed number of users, spawned no faster than the load test's
cap (spawn_rate_limit), with CSV output. Users double while
steps pass (halve while they fail); once a passing and a failing step bracket
the limit, midpoints are tried (``refinements``). Locust
is pinned to one core with taskset when the machine has more than one.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import cpu
from summary import (
    CpuUse,
    Failure,
    LocustAggregate,
    RouteFigures,
    Step,
    next_users,
    parse_locust_failures,
    parse_locust_routes,
    parse_locust_stats,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# What locust_steps.py prints when the window begins.
_RUNNING = re.compile(r"\[bench\] statistics reset .*?; (\d+) of (\d+) users running")


def spawn_rate_limit() -> float:
    """Users spawned per second, at most: the load test's own cap
    (loadtests/shapes.py). Faster, logins are shed, and a shopper whose login
    is shed too often stops, so a step would hold fewer users than it names,
    and a backlog from the ramp would reach its window."""
    loadtests = str(ROOT / "loadtests")
    if loadtests not in sys.path:
        sys.path.append(loadtests)
    import shapes

    return float(shapes.MAX_SPAWN_RATE)


def step_command(
    locust: str,
    users: int,
    run_time: str,
    csv_prefix: Path,
    cpus: str | None,
    spawn_seconds: float = 5.0,
) -> list[str]:
    rate = min(spawn_rate_limit(), max(1.0, users / spawn_seconds))
    command = [
        locust,
        "--config",
        "loadtests/locust.conf",
        "-f",
        "loadtests/bench/locust_steps.py",
        "--headless",
        "--shape",
        "steady",
        "--users",
        str(users),
        "--spawn-rate",
        f"{rate:g}",
        "--run-time",
        run_time,
        "--slo-profile",
        "off",
        "--metrics-port",
        "0",
        "--csv",
        str(csv_prefix),
    ]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    return command


def run_step(
    users: int,
    *,
    locust: str,
    measure_seconds: float,
    results: Path,
    cpus: str | None,
    env: dict[str, str],
    settle_seconds: float,
) -> tuple[Step, list[str], bool]:
    """One step; returns it, its command, and whether Locust warned of its own CPU."""
    prefix = results / f"mixed-{users:05d}"
    # The step stops itself after its window (locust_steps.py); this is a safety limit.
    run_time = f"{measure_seconds + settle_seconds + 180:.0f}s"
    command = step_command(locust, users, run_time, prefix, cpus)
    log = results / f"mixed-{users:05d}.log"
    cpu_file = results / f"mixed-{users:05d}-cpu.json"
    with log.open("wb") as handle:
        subprocess.run(  # noqa: S603
            command,
            cwd=ROOT,
            env={
                **env,
                "BENCH_SETTLE_SECONDS": f"{settle_seconds:g}",
                "BENCH_MEASURE_SECONDS": f"{measure_seconds:g}",
                "BENCH_CPU_FILE": str(cpu_file),
            },
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=600,
        )
    stats = Path(f"{prefix}_stats.csv")
    aggregate: LocustAggregate | None = None
    slowest: RouteFigures | None = None
    if stats.exists():
        text = stats.read_text(encoding="utf-8")
        try:
            aggregate = parse_locust_stats(text)
        except ValueError:
            aggregate = None
        routes = parse_locust_routes(text)
        slowest = routes[0] if routes else None
    text = log.read_text(encoding="utf-8", errors="replace")
    cpu_warning = "CPU usage above" in text or "CPU usage was too high" in text
    failures: list[Failure] = []
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        failures = parse_locust_failures(failures_csv.read_text(encoding="utf-8"))
    window = cpu.read(cpu_file)
    use = (
        CpuUse(window.seconds, tuple(window.cpu.items()), tuple(window.waited.items()))
        if window
        else None
    )
    return (
        Step(users, aggregate, slowest, tuple(failures), use, running_users(text)),
        command,
        cpu_warning,
    )


def running_users(log: str) -> int | None:
    """Users running when the step's window began, from its Locust log."""
    found = _RUNNING.search(log)
    return int(found.group(1)) if found else None


def search(
    *,
    locust: str,
    measure_seconds: float,
    results: Path,
    cpus: str | None,
    env: dict[str, str],
    start: int,
    max_steps: int,
    max_users: int,
    min_users: int,
    p95_limit_ms: float,
    settle_seconds: float,
    refinements: int = 1,
    say: Any = print,
) -> tuple[list[Step], list[str], list[int]]:
    """Steps in the order run, the command of each, and the users of steps where Locust
    itself ran short of CPU."""
    steps: list[Step] = []
    commands: list[str] = []
    starved: list[int] = []
    while len(steps) < max_steps:
        users = next_users(
            steps,
            start=start,
            max_users=max_users,
            min_users=min_users,
            p95_limit_ms=p95_limit_ms,
            refinements=refinements,
        )
        if users is None:
            break
        say(f"mixed workload: {users} users, {measure_seconds:g} s measured")
        step, command, cpu_warning = run_step(
            users,
            locust=locust,
            measure_seconds=measure_seconds,
            results=results,
            cpus=cpus,
            env=env,
            settle_seconds=settle_seconds,
        )
        steps.append(step)
        commands.append(
            f"BENCH_SETTLE_SECONDS={settle_seconds:g} BENCH_MEASURE_SECONDS={measure_seconds:g} "
            + shlex.join(command)
        )
        if cpu_warning:
            starved.append(users)
        a = step.aggregate
        if a is None:
            say("  no figures (see the step's log)")
        else:
            verdict = "pass" if step.passed(p95_limit_ms) else "FAIL"
            say(
                f"  {a.rps:.1f} req/s, p95 {a.p95_ms:.0f} ms, "
                f"{a.failures}/{a.requests} failed: {verdict}"
            )
            if step.slowest:
                say(f"  slowest: {step.slowest.name}, p95 {step.slowest.p95_ms:.0f} ms")
    return steps, commands, starved
