"""The bench's pure parts: wrk and Locust output, the capacity search, the report."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "loadtests" / "bench"
sys.path.insert(0, str(BENCH))
summary = importlib.import_module("summary")
bench = importlib.import_module("bench")
facts = importlib.import_module("facts")
ingest = importlib.import_module("ingest")
mixed = importlib.import_module("mixed")
runner = importlib.import_module("runner")
writer = importlib.import_module("report")

HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)
STATS = (
    HEADER + "\n"
    "POST,/api/v1/activity/events,5,0,18,17.9,15.8,19.7,51.0,0.0768,0.0,"
    "18,19,19,20,20,20,20,20,20,20,20\n"
    ",Aggregated,368,1,8,26.5,2.66,301.3,2811.8,5.6557,0.0153,"
    "8,11,14,18,120,130,170,210,300,300,300\n"
)

WRK = """Running 3s test @ http://127.0.0.1:18200/api/v1/products/x
  1 threads and 16 connections
  Latency Distribution
     50%   27.00ms
     75%   28.43ms
     90%   29.88ms
     99%    1.20s
  1752 requests in 3.01s, 865.73KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:    582.17
"""


def aggregate(rps: float, p95: float, failures: int = 0, requests: int = 1000):
    return summary.LocustAggregate(requests, failures, rps, p95 / 2, p95, p95 * 2, p95 * 3)


def step(users: int, passed: bool):
    return summary.Step(users, aggregate(users * 0.3, 50 if passed else 150))


def test_parse_locust_stats_reads_the_aggregated_row() -> None:
    result = summary.parse_locust_stats(STATS)
    assert result.requests == 368
    assert result.failures == 1
    assert result.rps == pytest.approx(5.6557)
    assert (result.p50_ms, result.p95_ms, result.p99_ms, result.max_ms) == (8, 130, 210, 301.3)


def test_parse_locust_stats_without_aggregate_is_an_error() -> None:
    with pytest.raises(ValueError, match="Aggregated"):
        summary.parse_locust_stats(HEADER + "\n")


def test_parse_locust_routes_lists_the_slowest_first() -> None:
    routes = summary.parse_locust_routes(STATS.replace("18,19,19,20,20,20", "18,19,19,20,20,900"))
    assert routes == [summary.RouteFigures("POST /api/v1/activity/events", 5, 0, 900)]


def test_parse_locust_stats_reads_na_as_zero() -> None:
    row = ",Aggregated,0,0,0,0,0,0,0,0,0," + ",".join(["N/A"] * 11)
    assert summary.parse_locust_stats(HEADER + "\n" + row + "\n").p95_ms == 0


@pytest.mark.parametrize(
    ("result", "passed"),
    [
        (aggregate(100, 99), True),
        (aggregate(100, 100), False),
        (aggregate(100, 50, failures=1), False),
        (aggregate(0, 0, requests=0), False),
        (None, False),
    ],
)
def test_a_step_passes_under_the_limit_without_failures(result, passed) -> None:
    assert summary.step_passes(result, 100) is passed


def test_search_doubles_while_steps_pass() -> None:
    assert summary.next_users([], start=100) == 100
    assert summary.next_users([step(100, True)], start=100) == 200
    assert summary.next_users([step(100, True), step(200, True)], start=100) == 400


def test_search_tries_one_midpoint_after_a_failure() -> None:
    steps = [step(100, True), step(200, True), step(400, False)]
    assert summary.next_users(steps, start=100) == 300
    assert summary.next_users([*steps, step(300, True)], start=100) is None
    assert summary.next_users([*steps, step(300, False)], start=100) is None


def test_search_halves_while_steps_fail_down_to_the_minimum() -> None:
    assert summary.next_users([step(100, False)], start=100) == 50
    assert summary.next_users([step(100, False), step(50, False)], start=100) == 20
    assert summary.next_users([step(20, False)], start=100, min_users=20) is None
    failing = [step(100, False), step(50, False), step(20, False), step(10, False)]
    assert summary.next_users(failing, start=100) is None


def test_search_bisects_once_after_halving_to_a_pass() -> None:
    steps = [step(100, False), step(50, True)]
    assert summary.next_users(steps, start=100) == 80
    assert summary.next_users([*steps, step(80, True)], start=100) is None


def test_search_stops_at_the_cap() -> None:
    assert summary.next_users([step(100, True)], start=100, max_users=150) == 150
    assert summary.next_users([step(100, True), step(150, True)], start=100, max_users=150) is None


def test_search_skips_a_midpoint_when_the_gap_is_narrow() -> None:
    steps = [step(100, True), step(110, False)]
    assert summary.next_users(steps, start=100, factor=1.1) is None


def test_best_and_failed() -> None:
    steps = [step(100, True), step(200, True), step(400, False), step(300, True)]
    best, failed = summary.best_and_failed(steps, 100)
    assert best.users == 300
    assert failed.users == 400
    best, failed = summary.best_and_failed([step(100, False)], 100)
    assert best is None
    assert failed.users == 100


def test_percentile_and_batches() -> None:
    values = [float(v) for v in range(1, 101)]
    assert summary.percentile(values, 0.5) == 50
    assert summary.percentile(values, 0.99) == 99
    assert summary.percentile([], 0.5) == 0
    assert [len(b) for b in summary.batches([{}] * 250, 100)] == [100, 100, 50]
    assert summary.per_second(10, 0) == 0
    with pytest.raises(ValueError, match="at least 1"):
        summary.batches([], 0)


def test_parse_wrk_counts_errors_and_units() -> None:
    run = runner.parse_wrk(WRK)
    assert run.rps == pytest.approx(582.17)
    assert run.p50_ms == pytest.approx(27.0)
    assert run.p99_ms == pytest.approx(1200.0)
    assert run.errors == 9
    assert run.requests == 1752
    assert run.server_cpu_us is None


def test_report_shows_every_figure_and_the_verdicts() -> None:
    args = argparse.Namespace(
        threads=1, connections=64, warmup="5s", repeat=1, duration="20s",
        step_measure=30.0, settle=10.0, p95_limit=100.0, refinements=2,
    )  # fmt: skip
    report = writer.Report(args=args, facts={"CPU": "test"},
                           commands=["make bench", f"{runner.ROOT}/.venv/bin/locust -f x.py"])  # fmt: skip
    for key, rps, p99, cpu_us in (("bare", 2000.0, 10.0, 150.0), ("on", 1000.0, 20.0, 330.0),
                                  ("off", 1100.0, 18.0, 300.0)):  # fmt: skip
        scenario = next(s for s in runner.SCENARIOS if s.key == key)
        run = runner.WrkRun(rps, 1.0, 2.0, p99, 0, "", server_cpu_us=cpu_us)
        report.outcomes[key] = runner.Outcome(scenario, [run])
    report.ingest = ingest.IngestResult(
        run_id="bench-x", clients=8, seconds=1.0, accepted=100, post_seconds=1.0,
        stored_seconds=2.0, stored=100, complete=True, raw_events=100, raw_seconds=0.5,
    )  # fmt: skip
    slow = summary.RouteFigures("GET /slow", 100, 0, 900)
    report.steps = [step(100, True), summary.Step(200, aggregate(60, 150), slow)]
    report.locust_cpus = "1"
    report.events_before_mixed = 20531
    text = writer.render(report)
    assert "events collection held 20,531 events when the first step began" in text
    report.events_before_mixed = 1
    assert "events collection held 1 event when the first step began" in writer.render(report)
    assert "| req/s: catalog (observability on) / bare | 0.50 | ≥ 0.40 | yes |" in text
    assert "| p99: catalog (observability on) / bare | 2.00 | ≤ 3.0 | yes |" in text
    assert "| req/s: observability on / off | 0.91 | ≥ 0.90 | yes |" in text
    assert "| catalog, observability on | 1000 | 1.00 | 2.00 | 20.00 | 0 | 1000 | 330 |" in text
    assert "| server CPU per request (median of runs): observability off / on | 0.91 | | |" in text
    assert "cost 30 µs of CPU per request (330 against 300, medians of the runs)" in text
    assert "| API → Celery on Redis → MongoDB (stored) | 100 | 2.00 | 50 |" in text
    assert "| raw pymongo `insert_many` (baseline) | 100 | 0.50 | 200 |" in text
    assert "API path / raw insert_many: **0.25**" in text
    assert "**Highest sustained rate: 30.0 req/s** at 100 users" in text
    assert "First failed step: 200 users, 60.0 req/s (p95 150 ms)" in text
    assert "taskset -c 1" in text
    assert "`GET /slow` (900, 10.0 %)" in text
    assert "make bench" in text
    assert "\n.venv/bin/locust -f x.py\n" in text  # paths from the clone's root, not this machine's


def test_report_names_missing_figures() -> None:
    args = argparse.Namespace(p95_limit=100.0, refinements=2, step_measure=30.0, settle=10.0)
    report = writer.Report(args=args, facts={}, ingest_error="ConnectError: refused")
    report.missing.append("mixed Locust workload: skipped in this run")
    text = writer.render(report)
    assert "Not measured: ConnectError: refused." in text
    assert "- mixed Locust workload: skipped in this run" in text


def _frame(function, path, time, children=(), synthetic=False):
    from types import SimpleNamespace

    return SimpleNamespace(
        function=function, file_path=path, line_no=1, time=time,
        children=list(children), is_synthetic=synthetic,
    )  # fmt: skip


def test_hotspots_keep_our_frames_and_count_recursion_once() -> None:
    profile = importlib.import_module("profile_catalog")
    ours = "/repo/services/catalog/catalog_service/cache.py"
    lib = "/venv/site-packages/redis/client.py"
    inner = _frame("get", ours, 2.0, [_frame("[self]", None, 0.5, synthetic=True),
                                      _frame("execute", lib, 1.5)])  # fmt: skip
    outer = _frame("get", ours, 3.0, [_frame("[self]", None, 1.0, synthetic=True), inner])
    root = _frame("run", lib, 10.0, [outer, _frame("select", lib, 7.0)])
    total, rows = profile.hotspots(root)
    assert total == 10.0
    assert rows == [("get (catalog/catalog_service/cache.py:1)", 3.0, 1.5)]


def test_kept_section_is_carried_over_to_the_next_heading() -> None:
    page = "# P\n\n## Figures\n\nx\n\n## What the profile shows\n\n- a\n- b\n\n## Commands\n\ny\n"
    assert summary.kept_section(page, "What the profile shows") == (
        "## What the profile shows\n\n- a\n- b\n"
    )
    assert summary.kept_section(page, "Absent") == ""
    assert summary.kept_section("## What the profile shows\nlast\n", "What the profile shows") == (
        "## What the profile shows\nlast\n"
    )


def test_parse_locust_failures_most_frequent_first() -> None:
    text = (
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
        "GET,/a,\"CatchResponseError('HTTP 422: bad, id')\",2,t,t\n"
        "GET,/b,CatchResponseError('HTTP 0'),19,t,t\n"
    )
    failures = summary.parse_locust_failures(text)
    assert [(f.route, f.occurrences) for f in failures] == [("GET /b", 19), ("GET /a", 2)]
    assert failures[1].error == "CatchResponseError('HTTP 422: bad, id')"


def test_a_new_commit_alone_is_not_a_change_of_the_code_under_test() -> None:
    before = "commit aaaaaaa, services/ tree 1234567 + uncommitted changes in 2 file(s) (diff abc)"
    after = "commit bbbbbbb, services/ tree 1234567 + uncommitted changes in 2 file(s) (diff abc)"
    assert facts.services_part(before) == facts.services_part(after)
    assert facts.services_part(after) != facts.services_part(after.replace("abc", "abd"))


def test_the_entry_point_keeps_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--help"])
    assert exit_info.value.code == 0
    options = capsys.readouterr().out
    for option in ("--duration", "--connections", "--only", "--skip", "--output"):
        assert option in options


def test_stored_events_are_read_from_the_workers_counter() -> None:
    import httpx

    text = (
        "# HELP sandbox_events_ingested_total Activity events stored, by type and path.\n"
        "# TYPE sandbox_events_ingested_total counter\n"
        'sandbox_events_ingested_total{source="api",type="product.viewed"} 120.0\n'
        'sandbox_events_ingested_total{source="task",type="product.created"} 3.0\n'
        'sandbox_events_ingested_created{source="api",type="product.viewed"} 1.7e9\n'
        "sandbox_celery_tasks_total 9.0\n"
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=text))
    with httpx.Client(transport=transport) as http:
        assert ingest.stored_so_far(http, "http://worker/metrics") == 123.0


def test_the_page_shows_where_the_cpu_went_during_ingestion() -> None:
    args = argparse.Namespace(p95_limit=100.0, refinements=2, step_measure=30.0, settle=10.0)
    report = writer.Report(args=args, facts={})
    report.ingest = ingest.IngestResult(
        run_id="bench-x", clients=8, seconds=1.0, accepted=400, post_seconds=1.0,
        stored_seconds=2.0, stored=400, complete=True, raw_events=400, raw_seconds=0.5,
        cpu=summary.CpuUse(2.0, (("activity service", 0.8), ("FerretDB", 0.4))),
    )  # fmt: skip
    text = writer.render(report)
    assert "until the 400 events were stored (2.0 s;" in text
    assert "| process | CPU s | cores | CPU ms per event |" in text
    assert "| activity service | 0.8 | 0.40 | 2.00 |" in text
    assert "| **all** | 1.2 | 0.60 | **3.00** |" in text


def test_a_step_short_of_its_users_fails_and_says_so() -> None:
    """Users that stopped during the ramp (a shopper whose login was refused)
    leave the window with less load than the step names."""
    short = summary.Step(960, aggregate(250, 50), running=823)
    full = summary.Step(960, aggregate(250, 50), running=960)
    assert not short.passed(100.0)
    assert short.label == "960 (823 running)"
    assert full.passed(100.0)
    assert full.label == "960"
    assert summary.Step(960, aggregate(250, 50)).passed(100.0)  # not reported: as before


def test_the_running_users_are_read_from_the_step_log() -> None:
    log = "x\n[bench] statistics reset after 13 s of settling; 823 of 960 users running, held\n"
    assert mixed.running_users(log) == 823
    assert mixed.running_users("no window\n") is None


def test_steps_spawn_at_most_at_the_rate_logins_take() -> None:
    command = mixed.step_command("locust", 1280, "60s", Path("x"), None)
    assert command[command.index("--spawn-rate") + 1] == f"{mixed.spawn_rate_limit():g}"
    command = mixed.step_command("locust", 40, "60s", Path("x"), None)
    assert command[command.index("--spawn-rate") + 1] == "8"


def test_a_step_stops_counting_when_its_window_ends() -> None:
    """What users do as they stop (every admin deletes what it created) is not
    the held load: Locust's statistics are frozen before it quits. Run in a
    process of its own, since importing Locust patches the standard library."""
    probe = (
        "import locust_steps\n"
        "from locust.stats import RequestStats\n"
        "stats = RequestStats()\n"
        "stats.log_request('GET', '/a', 10, 1)\n"
        "locust_steps._freeze(stats)\n"
        "stats.log_request('DELETE', '/b', 1300, 0)\n"
        "stats.log_error('DELETE', '/b', 'teardown')\n"
        "print(stats.total.num_requests, stats.total.num_failures)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=BENCH, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(BENCH)},
    )  # fmt: skip
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.split()[-2:] == ["1", "0"]


def test_search_tries_a_second_midpoint_when_asked() -> None:
    """With two refinements, a failed midpoint narrows the bracket once more."""
    steps = [step(320, True), step(640, True), step(1280, False)]
    assert summary.next_users(steps, start=20, refinements=2) == 960
    steps.append(step(960, False))
    assert summary.next_users(steps, start=20, refinements=2) == 800
    assert summary.next_users(steps, start=20) is None  # one refinement: done
    assert summary.next_users([*steps, step(800, True)], start=20, refinements=2) is None


class _Collection:
    """Events matched by a query, deleted at most ``limit`` ids at a time (as
    FerretDB v1 is bound by PostgreSQL's parameters per statement)."""

    def __init__(self, count: int, max_ids: int) -> None:
        self.ids = list(range(count))
        self.max_ids = max_ids

    def find(self, query: dict[str, object], projection: dict[str, int]) -> _Collection:
        return self

    def limit(self, count: int) -> list[dict[str, int]]:  # the cursor's limit
        return [{"_id": i} for i in self.ids[:count]]

    def delete_many(self, query: dict[str, dict[str, list[int]]]) -> argparse.Namespace:
        ids = set(query["_id"]["$in"])
        assert len(ids) <= self.max_ids, "too many parameters"
        self.ids = [i for i in self.ids if i not in ids]
        return argparse.Namespace(deleted_count=len(ids))


def test_ingest_cleanup_deletes_a_large_run_in_chunks() -> None:
    collection = _Collection(count=25_001, max_ids=10_000)
    assert ingest.delete_all(collection, {"object_id": "run"}, chunk=10_000) == 25_001
    assert collection.ids == []
