"""The Markdown page of the bench (docs/performance.md): the run's figures in a
Report, and one render_* function a section."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

from chart import KEEP_RUNS
from ingest import IngestResult
from mixed import spawn_rate_limit
from runner import ROOT, Outcome, WrkRun
from summary import CpuUse, Step, best_and_failed

# Written by hand from loadtests/bench/profile_catalog.py; kept when the page is regenerated.
PROFILE_HEADING = "What the profile shows"


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
    chart: str = ""  # the mixed workload's curve (chart.py), beside the page
    events_before_mixed: int | None = None  # activity's stored events when the steps began


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
        f"Each server is one uvicorn process against the local stack's Redis and PostgreSQL; "
        f"the three run side by side, one port each, and wrk's runs alternate between them "
        f"(bare, on, off, bare, ...), so a drift of the machine's speed reaches all three alike. "
        f"wrk: {args.threads} thread(s), {args.connections} connections, "
        f"{args.warmup} warm-up each then {args.repeat} run(s) of {args.duration}; the median "
        f"run by throughput is shown. Response body: {report.body_size} bytes "
        f"(product {report.product_id}).",
    ]
    server_cpus, wrk_cpus = report.pinned
    if server_cpus:
        lines.append(f"Server pinned to CPU {server_cpus}, wrk to CPU {wrk_cpus} (taskset).")
    else:
        lines.append("Server and wrk share the CPUs (not pinned): figures are pessimistic.")
    lines += [
        "",
        "| server | req/s | p50 ms | p90 ms | p99 ms | errors | runs (req/s) "
        "| server CPU µs per request, by run |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for outcome in outcomes.values():
        m = outcome.median
        runs = ", ".join(f"{run.rps:.0f}" for run in outcome.runs)
        cpu_runs = ", ".join(
            f"{run.server_cpu_us:.0f}" if run.server_cpu_us is not None else "?"
            for run in outcome.runs
        )
        lines.append(
            f"| {outcome.scenario.title} | {m.rps:.0f} | {m.p50_ms:.2f} | {m.p90_ms:.2f} "
            f"| {m.p99_ms:.2f} | {m.errors} | {runs} | {cpu_runs} |"
        )
    bare = outcomes["bare"].median if "bare" in outcomes else None
    on = outcomes["on"].median if "on" in outcomes else None
    off = outcomes["off"].median if "off" in outcomes else None

    def rps(run: WrkRun | None) -> float:
        return run.rps if run else 0.0

    def p99(run: WrkRun | None) -> float:
        return run.p99_ms if run else 0.0

    def cpu_us(outcome: Outcome | None) -> float:
        """The median over runs of the server's CPU per request (0: not measured)."""
        spent = sorted(r.server_cpu_us for r in (outcome.runs if outcome else [])
                       if r.server_cpu_us is not None)  # fmt: skip
        return spent[len(spent) // 2] if spent else 0.0

    lines += [
        "",
        "| comparison | ratio | target | met |",
        "|---|---:|---|---|",
        f"| req/s: catalog (observability on) / bare | {ratio(rps(on), rps(bare))} | ≥ 0.40 "
        f"| {_met(rps(on), rps(bare), lambda r: r >= 0.4)} |",
        f"| p99: catalog (observability on) / bare | {ratio(p99(on), p99(bare))} | ≤ 3.0 "
        f"| {_met(p99(on), p99(bare), lambda r: r <= 3.0)} |",
        f"| req/s: catalog (observability off) / bare | {ratio(rps(off), rps(bare))} | | |",
        f"| req/s: observability on / off | {ratio(rps(on), rps(off))} | ≥ 0.90 "
        f"| {_met(rps(on), rps(off), lambda r: r >= 0.9)} |",
        f"| server CPU per request (median of runs): observability off / on "
        f"| {ratio(cpu_us(outcomes.get('off')), cpu_us(outcomes.get('on')))} | | |",
        "",
        "The gap between bare and catalog (off) is the cost of the framework: routing,",
        "dependency injection, validation and response building. The gap between off and",
        "on is the cost of request metrics and access logging.",
        "Server CPU per request is the server process's user and system time over a run",
        "(`/proc/<pid>/stat`) divided by the requests wrk counted: unlike req/s, it does",
        "not move with time the machine's cores spent elsewhere.",
    ]
    on_cpu, off_cpu = cpu_us(outcomes.get("on")), cpu_us(outcomes.get("off"))
    if on_cpu and off_cpu:
        lines.append(
            f"Request metrics and the access line cost {on_cpu - off_cpu:.0f} µs of CPU per "
            f"request ({on_cpu:.0f} against {off_cpu:.0f}, medians of the runs)."
        )
    return [*lines, ""]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


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
        f"Events POSTed to `/api/v1/activity/events` for {result.seconds:g} s (one bench "
        f"account, bearer token) over {result.clients} concurrent connections (wrk, one thread, "
        "loadtests/bench/post_events.lua), "
        "after a warm-up. The API answers 202 once the event is on the broker; the",
        "service batches a burst into one Celery task, the worker stores it with",
        "`insert_many`. **Stored events/s** = events stored / seconds from the first POST",
        "until the worker's counter of stored events (`sandbox_events_ingested_total`, read",
        "from its /metrics every 50 ms) had grown by the number accepted; one count of the",
        "run's `object_id` in MongoDB then confirmed them (polling that count would load the",
        "server under test). **Baseline**: the same stored documents with fresh",
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
    if result.cpu is not None and result.stored:
        lines += cpu_table(
            result.cpu,
            result.stored,
            "event",
            f"Where the CPU went from the first POST until the {result.stored} events were "
            f"stored ({result.cpu.seconds:.1f} s; CPU time from `/proc/<pid>/stat`, "
            "loadtests/bench/cpu.py):",
        )
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
        f"users spawned within 5 s and at most {spawn_rate_limit():g} a second (the login storm "
        "the user service takes without an error; faster, shed logins would stop shoppers and "
        "the step would hold fewer users than it names); once spawned, at least "
        f"{args.settle:g} s and until no login for 3 s, then the statistics are reset and the",
        f"load held for {args.step_measure:g} s (loadtests/bench/locust_steps.py): a step's "
        "figures cover the held load, not the ramp and the start-up logins (argon2id).",
        f"A step passes when all its users were running when the window began, no request "
        "failed and the aggregated p95 is under "
        f"{args.p95_limit:g} ms. Users double while steps pass and halve while they fail; "
        "once a pass and a failure bracket the limit, up to "
        f"{_count(args.refinements, 'midpoint')} between the best pass and the lowest failure "
        f"are tried. {pin}",
        "",
    ]
    if report.events_before_mixed is not None:
        lines += [
            f"Activity's events collection held {_count(report.events_before_mixed, 'event')} "
            "when the "
            "first step began, and every step adds to it. What reads the store grows with it: "
            "a product's stats when first read, and trending where its counters do not cover "
            "a window (counting began on a store that held events; docs/api.md, Trending).",
            "",
        ]
    if report.chart:
        lines += [
            f"![Rate and p95 against users, one line per bench run]({report.chart})",
            "",
            f"Rate and aggregated p95 against users, one line per run of `make bench` (the "
            f"newest {KEEP_RUNS}, kept in `{report.chart.replace('-mixed.svg', '-runs.json')}`"
            "); a filled dot is a step that passed.",
            "",
        ]
    lines += [
        "| users | req/s | p50 ms | p95 ms | p99 ms | requests | failures | verdict "
        "| slowest route (p95 ms, share of requests) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for step in report.steps:
        a = step.aggregate
        if a is None:
            lines.append(f"| {step.label} | | | | | | | no figures | |")
            continue
        verdict = "pass" if step.passed(args.p95_limit) else "fail"
        slow = step.slowest
        slowest = (
            f"`{slow.name}` ({slow.p95_ms:.0f}, {100 * slow.requests / a.requests:.1f} %)"
            if slow and a.requests
            else ""
        )
        lines.append(
            f"| {step.label} | {a.rps:.1f} | {a.p50_ms:.0f} | {a.p95_ms:.0f} | {a.p99_ms:.0f} "
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
    if best is not None:
        lines += render_cpu(best)
    if failed and failed.aggregate:
        why = []
        if failed.aggregate.p95_ms >= args.p95_limit:
            why.append(f"p95 {failed.aggregate.p95_ms:.0f} ms")
        if failed.aggregate.failures:
            why.append(f"{failed.aggregate.failures} failed requests")
        if failed.short_of_users:
            why.append(f"only {failed.running} users running")
        lines += [
            "",
            f"First failed step: {failed.label} users, {failed.aggregate.rps:.1f} req/s "
            f"({', '.join(why) or 'no requests'}).",
        ]
        if failed.cpu is not None:
            lines += render_cpu(failed)
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


def render_cpu(step: Step) -> list[str]:
    """Where the CPU went while a step's load was held."""
    use, aggregate = step.cpu, step.aggregate
    if use is None or aggregate is None or not aggregate.requests:
        return ["", f"(No CPU figures for the {step.users}-user step.)"]
    return cpu_table(
        use,
        aggregate.requests,
        "request",
        f"Where the CPU went while {step.users} users were held ({use.seconds:.0f} s, "
        f"{aggregate.requests} requests; CPU time from `/proc/<pid>/stat`, "
        "loadtests/bench/cpu.py):",
    )


def cpu_table(use: CpuUse, count: int, unit: str, heading: str) -> list[str]:
    """CPU by part of the stack over a window, and per ``unit`` of ``count``;
    with the time each part's threads waited for a core, where it was read."""
    waited = dict(use.waited)
    extra = " | waited for a core s" if waited else ""
    lines = [
        "",
        heading,
        "",
        f"| process | CPU s | cores | CPU ms per {unit}{extra} |",
        "|---|---:|---:|---:|" + ("---:|" if waited else ""),
    ]
    for part, spent in use.by_part:
        wait = f" | {waited[part]:.1f}" if part in waited else (" | " if waited else "")
        lines.append(
            f"| {part} | {spent:.1f} | {spent / use.seconds:.2f} "
            f"| {use.ms_per(count, spent):.2f}{wait} |"
        )
    total_wait = f" | {use.waited_total:.1f}" if waited else ""
    lines.append(
        f"| **all** | {use.total:.1f} | {use.total / use.seconds:.2f} "
        f"| **{use.ms_per(count):.2f}**{total_wait} |"
    )
    if waited:
        cores = os.cpu_count() or 1
        lines += [
            "",
            f"On average {use.total / use.seconds:.2f} of the machine's {cores} cores ran "
            f"these processes and {use.waited_total / use.seconds:.2f} of their threads "
            "were ready to run but waited for a core (the run-queue wait of "
            "`/proc/<pid>/task/<tid>/schedstat`).",
        ]
    return lines


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
        *[command.replace(f"{ROOT}/", "") for command in report.commands],  # from the clone's root
        "```",
        "",
    ]
    return "\n".join(lines)
