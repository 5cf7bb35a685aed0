"""Throughput bench: every figure of the sandbox against its baseline, in one run.

    make bench          # needs the local stack (make local-up, make seed) and wrk
    python loadtests/bench/bench.py --duration 20s --connections 64 --output docs/performance.md

1. A cached product read (``GET /api/v1/products/{id}``) through the catalog
   against a bare ASGI app doing the same Redis read (bare_app.py). Each
   server is one uvicorn process with the local stack's environment; the
   servers run side by side and wrk's runs alternate between them after a
   warm-up each; the median run counts. With two cores or more the servers
   are pinned to the first core and wrk to the others.
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

The parts: runner.py starts the servers and runs wrk, phases.py runs the
phases, report.py renders the page, facts.py describes the machine and the
code under test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import sys
from pathlib import Path

from chart import Point, Run, load_history, render_svg, save_history, with_run
from facts import code_state, machine_facts
from phases import check_code, run_ingest, run_mixed, run_read
from report import PROFILE_HEADING, Report, render
from runner import ROOT, fail, say, stack_env
from summary import kept_section

from sandbox_common.topology import local_url

PHASES = ["bare", "on", "off", "ingest", "mixed"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="20s", help="wrk duration of one run")
    parser.add_argument("--warmup", default="5s", help="wrk warm-up before the runs")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server; the median counts")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="wrk threads (default: wrk's CPUs)")
    parser.add_argument(
        "--port",
        type=int,
        default=18200,
        help="port of the first server (the others take the next ones)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--ingest-seconds", type=int, default=10, help="wrk takes whole seconds")
    parser.add_argument("--ingest-clients", type=int, default=32)
    parser.add_argument(
        "--step-measure", type=float, default=30.0, help="s measured per step, after settling"
    )
    parser.add_argument("--step-start", type=int, default=20, help="users of the first step")
    # Doubling from 20 users reaches 1280 in seven steps; the eighth and
    # ninth are midpoints between the best pass and the lowest failure.
    parser.add_argument("--max-steps", type=int, default=9)
    parser.add_argument(
        "--refinements", type=int, default=2, help="midpoints tried once a limit is bracketed"
    )
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
    env = {**os.environ, **stack_env()}
    redis_url = env.get("SANDBOX_REDIS_URL")
    if not redis_url:
        fail("SANDBOX_REDIS_URL is not in the stack's environment")
    env["BENCH_REDIS_URL"] = redis_url
    catalog = env.get("SANDBOX_CATALOG_URL", local_url("catalog")).rstrip("/")

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
    output.parent.mkdir(parents=True, exist_ok=True)
    if report.steps:
        report.chart = draw_chart(report, output)
    text = render(report)
    output.write_text(text, encoding="utf-8")
    (results / "performance.md").write_text(text, encoding="utf-8")
    if report.chart:  # the copy links the chart beside it too
        shutil.copy(output.with_name(report.chart), results / report.chart)
    say(f"wrote {args.output} (raw output in {results.relative_to(ROOT)})")
    if any(run.errors for outcome in report.outcomes.values() for run in outcome.runs):
        say("warning: some wrk requests failed; see the wrk output")


def draw_chart(report: Report, output: Path) -> str:
    """Add this run's steps to the history beside the page and draw every
    kept run's line; the chart's file name, relative to the page."""
    history = output.with_name(output.stem + "-runs.json")
    svg = output.with_name(output.stem + "-mixed.svg")
    measured = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    points = tuple(
        Point(step.users, step.aggregate.rps, step.aggregate.p95_ms,
              step.passed(report.args.p95_limit))
        for step in report.steps
        if step.aggregate is not None
    )  # fmt: skip
    runs = with_run(load_history(history), Run(f"{measured}, {report.code}", points))
    save_history(history, runs)
    svg.write_text(render_svg(runs, p95_limit=report.args.p95_limit), encoding="utf-8")
    return svg.name


if __name__ == "__main__":
    main()
