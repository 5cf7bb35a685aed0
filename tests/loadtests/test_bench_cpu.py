"""The bench's CPU accounting: which part of the stack a process is, the CPU
spent between two snapshots, and the page's table of it."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "loadtests" / "bench"
sys.path.insert(0, str(BENCH))
cpu = importlib.import_module("cpu")
summary = importlib.import_module("summary")
writer = importlib.import_module("report")


@pytest.mark.parametrize(
    ("cmdline", "part"),
    [
        ("/src/.venv/bin/python3 /src/.venv/bin/sandbox-serve catalog", "catalog service"),
        ("/opt/venv/bin/python3 /opt/venv/bin/sandbox-serve user", "user service"),
        (".venv/bin/celery -A sandbox_worker.app worker --loglevel INFO", "Celery worker"),
        ("/src/.venv/bin/python3 /src/.venv/bin/sandbox-worker", "Celery worker"),
        ("/opt/venv/bin/python3 /opt/venv/bin/sandbox-beat", "Celery beat"),
        (".venv/bin/celery -A sandbox_worker.app beat -s x", "Celery beat"),
        ("/src/.tools/ferretdb/ferretdb --listen-addr=127.0.0.1:27017", "FerretDB"),
        ("postgres: sandbox catalog 127.0.0.1(55046) idle", "PostgreSQL (catalog)"),
        ("postgres: sandbox ferretdb 127.0.0.1(55100) SELECT", "PostgreSQL (ferretdb)"),
        ("/usr/lib/postgresql/15/bin/postgres -D /data -p 55432", "PostgreSQL (server)"),
        ("postgres: checkpointer", "PostgreSQL (server)"),
        ("postgres: sandbox users [local] idle", "PostgreSQL (users)"),
        ("postgres: autovacuum worker catalog", "PostgreSQL (server)"),
        ("postgres: logical replication launcher", "PostgreSQL (server)"),
        ("redis-server 127.0.0.1:56379", "Redis"),
        (
            "/src/.venv/bin/python3 /src/.venv/bin/locust -f loadtests/bench/locust_steps.py",
            "Locust",
        ),
        ("/usr/bin/prometheus --config.file=x", "Prometheus and exporters"),
        (
            ".venv/bin/python loadtests/bench/bench.py --ingest-seconds 10",
            "bench (its own process)",
        ),
        ("wrk -t1 -c32 -d120s --latency -s loadtests/bench/post_events.lua http://x", "wrk"),
        ("/usr/bin/bash -c sleep 1", None),
    ],
)
def test_a_process_is_counted_in_the_part_its_command_names(cmdline: str, part: str | None) -> None:
    assert cpu.part_of(cmdline) == part


def test_usage_counts_what_was_spent_between_snapshots() -> None:
    before = {1: cpu.Sample("user service", 10.0, 4.0), 2: cpu.Sample("Redis", 3.0, 1.0),
              3: cpu.Sample("user service", 1.0, 0.5)}  # fmt: skip
    after = {1: cpu.Sample("user service", 12.5, 5.0), 2: cpu.Sample("Redis", 3.5, 1.25),
             4: cpu.Sample("user service", 0.25, 0.75)}  # fmt: skip
    # pid 3 ended (lost); pid 4 started during the window (counted from zero).
    assert cpu.usage(before, after) == {"user service": 2.75, "Redis": 0.5}
    assert cpu.waited(before, after) == {"user service": 1.75, "Redis": 0.25}


def test_a_window_survives_its_file(tmp_path: Path) -> None:
    window = cpu.Window(30.5, {"catalog service": 12.0}, {"catalog service": 3.5})
    cpu.write(tmp_path / "w.json", window)
    assert cpu.read(tmp_path / "w.json") == window
    assert cpu.read(tmp_path / "missing.json") is None


@pytest.mark.skipif(
    not Path("/proc/self/task").is_dir() or not hasattr(os, "sched_setaffinity"),
    reason="needs Linux's /proc and CPU affinity",
)
def test_threads_that_share_one_core_are_seen_waiting_for_it() -> None:
    """Three busy processes on one core: each is ready to run two thirds of
    the time it is not running, and the snapshot sees that wait."""
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat").exists():
        pytest.skip("the kernel keeps no scheduler statistics")
    core = min(os.sched_getaffinity(0))
    busy = f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True: pass"
    children = [subprocess.Popen([sys.executable, "-c", busy, "sandbox-serve", "catalog"])
                for _ in range(3)]  # fmt: skip
    try:
        time.sleep(0.3)
        before, began = cpu.snapshot(), time.monotonic()
        time.sleep(1.0)
        after, seconds = cpu.snapshot(), time.monotonic() - began
    finally:
        for child in children:
            child.kill()
            child.wait(timeout=10)
    assert all(c.pid in before and c.pid in after for c in children)
    waits = [after[c.pid].waited - before[c.pid].waited for c in children]
    ran = [after[c.pid].cpu - before[c.pid].cpu for c in children]
    # Sharing one core three ways, each runs about a third of the window and
    # waits about two thirds: the wait is the larger figure (other load on
    # the machine only makes it larger), and no process waits longer than the
    # window.
    assert sum(waits) > 1.5 * sum(ran), (waits, ran)
    assert all(wait <= seconds + 0.1 for wait in waits), (waits, seconds)


def test_a_busy_child_counts_in_its_parents_part() -> None:
    """A real process tree: a busy child without a part of its own is
    counted in its parent's, as uvicorn's workers are in their service's."""
    parent = subprocess.Popen(  # a stand-in parent named like the catalog
        [sys.executable, "-c",
         "import subprocess, sys; subprocess.run([sys.executable, '-c', "
         "'import time\\nend = time.time() + 1.5\\nwhile time.time() < end: pass'])",
         "sandbox-serve", "catalog"],
    )  # fmt: skip
    try:
        time.sleep(0.3)
        before = cpu.snapshot()
        parent.wait(timeout=10)
    finally:
        parent.kill()
    assert parent.pid in before
    children = [pid for pid, sample in before.items()
                if sample.part == "catalog service" and pid != parent.pid and pid != os.getpid()]  # fmt: skip
    assert children, "the child was not counted in its parent's part"


def test_the_page_shows_where_the_cpu_went() -> None:
    args = argparse.Namespace(p95_limit=100.0, refinements=2, step_measure=30.0, settle=10.0)
    report = writer.Report(args=args, facts={})
    use = summary.CpuUse(30.0, (("user service", 15.0), ("FerretDB", 6.0), ("Locust", 3.0)))
    best = summary.Step(320, summary.LocustAggregate(2400, 0, 80.0, 9, 30, 80, 200), cpu=use)
    report.steps = [
        best,
        summary.Step(640, summary.LocustAggregate(3000, 5, 100, 200, 900, 2000, 4000)),
    ]
    text = writer.render(report)
    assert "Where the CPU went while 320 users were held (30 s, 2400 requests" in text
    assert "| user service | 15.0 | 0.50 | 6.25 |" in text
    assert "| FerretDB | 6.0 | 0.20 | 2.50 |" in text
    assert "| **all** | 24.0 | 0.80 | **10.00** |" in text
    assert "waited for a core" not in text


def test_the_page_shows_the_wait_for_a_core_of_the_passing_and_the_failing_step() -> None:
    args = argparse.Namespace(p95_limit=100.0, refinements=2, step_measure=30.0, settle=10.0)
    report = writer.Report(args=args, facts={})
    passed = summary.CpuUse(30.0, (("catalog service", 12.0), ("FerretDB", 6.0)),
                            (("catalog service", 3.0), ("FerretDB", 1.5)))  # fmt: skip
    failed = summary.CpuUse(30.0, (("catalog service", 18.0), ("FerretDB", 9.0)),
                            (("catalog service", 15.0), ("FerretDB", 6.0)))  # fmt: skip
    report.steps = [
        summary.Step(320, summary.LocustAggregate(2400, 0, 80.0, 9, 30, 80, 200), cpu=passed),
        summary.Step(640, summary.LocustAggregate(3000, 5, 100, 200, 900, 2000, 4000), cpu=failed),
    ]
    text = writer.render(report)
    assert "| process | CPU s | cores | CPU ms per request | waited for a core s |" in text
    assert "| catalog service | 12.0 | 0.40 | 5.00 | 3.0 |" in text
    assert "| **all** | 18.0 | 0.60 | **7.50** | 4.5 |" in text
    assert "Where the CPU went while 640 users were held (30 s, 3000 requests" in text
    assert "| catalog service | 18.0 | 0.60 | 6.00 | 15.0 |" in text
    assert "| **all** | 27.0 | 0.90 | **9.00** | 21.0 |" in text
    assert "0.70 of their threads were ready to run but waited for a core" in text
