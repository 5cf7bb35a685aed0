"""The phases of the bench, each filling its part of the Report: the cached read
on every server (run_read), event ingestion (run_ingest) and the mixed Locust
workload (run_mixed); check_code notes a change of the code under test
between them."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import cpu
import ingest
import mixed
from facts import code_state, services_part
from report import Report
from runner import (
    BIN,
    SCENARIOS,
    Outcome,
    WrkRun,
    fail,
    http_get,
    run_wrk,
    say,
    server_command,
    start_server,
    stop_server,
    wait_for,
    wrk_command,
)

from sandbox_common.topology import local_url


def check_code(report: Report, phase: str) -> None:
    now = code_state()
    if services_part(now) != services_part(report.code):
        report.code_changes.append(f"before {phase}: {now}")
        report.code = now
        say(f"warning: services/ changed during the run ({now})")


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

    wanted = [s for s in SCENARIOS if not args.only or s.key in args.only]
    # The servers run side by side, one port each, and the runs alternate
    # between them (bare, on, off, bare, ...): a drift of the machine's speed
    # during the phase reaches every server alike, and the ratios compare
    # runs minutes apart no more.
    ports = {scenario.key: args.port + index for index, scenario in enumerate(wanted)}
    urls = {key: f"http://127.0.0.1:{port}{path}" for key, port in ports.items()}
    check_code(report, "the cached read")
    processes = []
    servers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for scenario in wanted:
            key = scenario.key
            say(f"{scenario.title}: starting on port {ports[key]}")
            command = server_command(scenario, ports[key], server_cpus)
            report.commands.append(f"# {scenario.title}\n{shlex.join(command)}")
            wrk = wrk_command(urls[key], args, args.duration, wrk_cpus)
            report.commands.append(shlex.join(wrk))
            process = start_server(
                scenario, ports[key], env, results / f"{key}-server.log", server_cpus
            )
            processes.append(process)
            servers[key] = process
            wait_for(urls[key], process)
        runs: dict[str, list[WrkRun]] = {scenario.key: [] for scenario in wanted}
        for scenario in wanted:
            run_wrk(urls[scenario.key], args, args.warmup, wrk_cpus)
        for index in range(args.repeat):
            for scenario in wanted:
                key = scenario.key
                refill_cache(env["BENCH_REDIS_URL"], report.product_id, catalog + path)
                before = cpu.process_seconds(servers[key].pid)
                run = run_wrk(urls[key], args, args.duration, wrk_cpus)
                spent = cpu.process_seconds(servers[key].pid) - before
                if run.requests and spent > 0:
                    run.server_cpu_us = 1e6 * spent / run.requests
                (results / f"{key}-wrk-{index + 1}.txt").write_text(run.raw)
                say(f"  {scenario.title}, run {index + 1}: {run.rps:.0f} req/s, "
                    f"p99 {run.p99_ms:.2f} ms")  # fmt: skip
                runs[key].append(run)
        for scenario in wanted:
            report.outcomes[scenario.key] = Outcome(scenario, runs[scenario.key])
    finally:
        for process in processes:
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
    activity_url = env.get("SANDBOX_ACTIVITY_URL", local_url("activity")).rstrip("/")
    try:
        report.ingest = ingest.run(
            user_url=env.get("SANDBOX_USER_URL", local_url("user")).rstrip("/"),
            activity_url=activity_url,
            mongo_url=env["SANDBOX_MONGO_URL"],
            database=env.get("SANDBOX_MONGO_DATABASE", "activity"),
            seconds=args.ingest_seconds,
            clients=args.ingest_clients,
            say=say,
        )
    except Exception as error:
        report.ingest_error = f"{error.__class__.__name__}: {error}"
        report.missing.append(f"event ingestion: {report.ingest_error}")
        say(f"ingestion failed: {report.ingest_error}")
    command = ingest.post_command(
        f"{activity_url}/api/v1/activity/events", args.ingest_seconds, args.ingest_clients
    )
    report.commands += [
        "# event ingestion (in bench.py, loadtests/bench/ingest.py), its POSTs:",
        "BENCH_BODY='<event JSON>' BENCH_TOKEN='<bearer token>' " + shlex.join(command),
    ]


def run_mixed(report: Report, env: dict[str, str], results: Path) -> None:
    args = report.args
    cores = os.cpu_count() or 1
    cpus = None
    if cores >= 2 and not args.no_pin and shutil.which("taskset"):
        cpus = str(cores - 1)
    report.locust_cpus = cpus
    report.events_before_mixed = ingest.stored_events(
        env["SANDBOX_MONGO_URL"], env.get("SANDBOX_MONGO_DATABASE", "activity")
    )
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
        refinements=args.refinements,
        settle_seconds=args.settle,
        say=say,
    )
    report.steps, report.starved = steps, starved
    report.commands.append("# mixed workload, one command per step")
    report.commands.extend(commands)
