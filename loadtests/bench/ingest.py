"""Event ingestion end to end against raw ``insert_many`` into the same server.

API path: wrk's concurrent connections POST /api/v1/activity/events (authenticated) to
the running activity service; it batches a burst into one Celery task on
Redis; the worker stores the batch with ``insert_many``. The figure is events
per second *as stored*: from the first POST until the worker's counter of
stored events (``sandbox_events_ingested_total`` on its /metrics) has grown by
the number the API accepted, then confirmed by one count in MongoDB (polling
the count would load the server under test). The CPU every process spent over
the same window is taken from ``/proc`` (cpu.py).

Baseline: the documents the API path stored, read back, given fresh event ids
and the baseline's own object id, then written with pymongo ``insert_many``
(batches of 100, ``ordered=False``) by one client into the same collection,
so the same indexes are maintained.

Every run uses its own object ids (``bench-<stamp>-<hex>-...``) and deletes
its documents at the end.
"""

from __future__ import annotations

import json
import os
import re
import resource
import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cpu
import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient
from runner import ROOT, WrkRun, parse_wrk
from summary import CpuUse, batches, per_second

from sandbox_common.topology import WORKER_METRICS_PORT, local_url

WORKER_METRICS_URL = f"http://127.0.0.1:{WORKER_METRICS_PORT}/metrics"
STORED_COUNTER = "sandbox_events_ingested_total"
POST_SCRIPT = Path(__file__).with_name("post_events.lua")

BENCH_EMAIL = "bench-ingest@loadtest.example.com"
# A bench fixture on the local stack, not a secret.
BENCH_PASSWORD = "bench-ingest-account-password"


@dataclass
class IngestResult:
    run_id: str
    clients: int
    seconds: float
    accepted: int = 0
    rejected: int = 0
    post_seconds: float = 0.0
    stored_seconds: float = 0.0
    stored: int = 0
    complete: bool = False
    post_p50_ms: float = 0.0
    post_p99_ms: float = 0.0
    raw_events: int = 0
    raw_seconds: float = 0.0
    raw_batch: int = 100
    cpu: CpuUse | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def api_rate(self) -> float:
        return per_second(self.stored, self.stored_seconds)

    @property
    def accept_rate(self) -> float:
        return per_second(self.accepted, self.post_seconds)

    @property
    def raw_rate(self) -> float:
        return per_second(self.raw_events, self.raw_seconds)


def _token(user_url: str) -> str:
    with httpx.Client(timeout=10) as http:
        registered = http.post(
            f"{user_url}/api/v1/auth/register",
            json={"email": BENCH_EMAIL, "password": BENCH_PASSWORD, "display_name": "Bench"},
        )
        if registered.status_code not in (201, 409):
            raise RuntimeError(f"register answered {registered.status_code}: {registered.text}")
        answer = http.post(
            f"{user_url}/api/v1/auth/token",
            data={"username": BENCH_EMAIL, "password": BENCH_PASSWORD},
        )
        if answer.status_code != 200:
            raise RuntimeError(f"login answered {answer.status_code}: {answer.text[:200]}")
        return str(answer.json()["access_token"])


def post_command(url: str, seconds: float, clients: int) -> list[str]:
    return ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--latency", "-s",
            str(POST_SCRIPT.relative_to(ROOT)), url]  # fmt: skip


def _post_events(
    url: str, token: str, object_id: str, seconds: float, clients: int
) -> tuple[int, int, float, float, WrkRun, float]:
    """POST events for ``seconds`` from ``clients`` concurrent connections with
    wrk (one thread, post_events.lua): a load generator that costs the machine
    little, where one Python client (httpx) took more CPU than the service it
    drove.

    Returns accepted, rejected, the monotonic time wrk started and the time it
    sent its last request (its start plus the duration it reports), wrk's
    figures (latency percentiles) and the CPU seconds wrk used, from its
    rusage (it has ended before the window's last snapshot, so cpu.py's
    reading of /proc cannot see it).
    """
    body = {"type": "product.viewed", "object_id": object_id, "metadata": {"source": "bench"}}
    env = {**os.environ, "BENCH_BODY": json.dumps(body), "BENCH_TOKEN": token}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    first = time.monotonic()
    done = subprocess.run(  # noqa: S603
        post_command(url, seconds, clients), env=env, cwd=ROOT, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    run = parse_wrk(done.stdout)
    sent = re.search(r"(\d+) requests in ([\d.]+)s", done.stdout)
    if not sent:
        raise ValueError(f"wrk printed no request count:\n{done.stdout}")
    answered, took = int(sent.group(1)), float(sent.group(2))
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime
    return answered - run.errors, run.errors, first, first + took, run, wrk_cpu


def _wait_for_count(
    collection: Any, object_id: str, wanted: int, timeout: float, poll: float = 0.5
) -> int:
    """Poll until ``wanted`` documents carry ``object_id``; the last count."""
    deadline = time.monotonic() + timeout
    while True:
        count: int = collection.count_documents({"object_id": object_id})
        if count >= wanted or time.monotonic() > deadline:
            return count
        time.sleep(poll)


def stored_so_far(http: httpx.Client, metrics_url: str) -> float:
    """Events the worker has stored since it started, by its own counter."""
    text = http.get(metrics_url).raise_for_status().text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == STORED_COUNTER
    )


def _wait_for_stored(
    http: httpx.Client, metrics_url: str, start: float, wanted: int, timeout: float,
    poll: float = 0.05,
) -> float | None:  # fmt: skip
    """The monotonic time the worker's counter had grown by ``wanted`` since
    ``start``, or None if it had not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stored_so_far(http, metrics_url) - start >= wanted:
            return time.monotonic()
        time.sleep(poll)
    return None


def run(
    *,
    user_url: str,
    activity_url: str,
    mongo_url: str,
    database: str,
    seconds: float,
    clients: int,
    warmup: float = 2.0,
    batch: int = 100,
    settle_timeout: float = 180.0,
    metrics_url: str = WORKER_METRICS_URL,
    say: Any = print,
) -> IngestResult:
    stamp = time.strftime("%Y%m%d%H%M%S")
    run_id = f"bench-{stamp}-{secrets.token_hex(3)}"
    api_id, raw_id, warm_id = f"{run_id}-api", f"{run_id}-raw", f"{run_id}-warm"
    result = IngestResult(run_id=run_id, clients=clients, seconds=seconds, raw_batch=batch)
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_url, tz_aware=True)
    worker = httpx.Client(timeout=5)
    collection = mongo[database]["events"]
    url = f"{activity_url}/api/v1/activity/events"
    try:
        token = _token(user_url)
        say(f"ingestion: warm-up, {warmup:g} s")
        accepted, *_ = _post_events(url, token, warm_id, warmup, clients)
        _wait_for_count(collection, warm_id, accepted, settle_timeout)

        say(f"ingestion: {seconds:g} s of POSTs over {clients} connections (wrk)")
        start = stored_so_far(worker, metrics_url)
        before = cpu.snapshot()
        accepted, rejected, first, last, run, wrk_cpu = _post_events(
            url, token, api_id, seconds, clients
        )
        result.accepted, result.rejected = accepted, rejected
        result.post_seconds = last - first
        result.post_p50_ms, result.post_p99_ms = run.p50_ms, run.p99_ms
        done = _wait_for_stored(worker, metrics_url, start, accepted, settle_timeout)
        after = cpu.snapshot()
        result.stored = _wait_for_count(collection, api_id, accepted, settle_timeout)
        result.complete = done is not None and result.stored >= accepted
        if done is not None:
            result.stored_seconds = done - first
            spent = {**cpu.usage(before, after), "wrk": wrk_cpu}
            result.cpu = CpuUse(
                done - first,
                tuple(sorted(spent.items(), key=lambda i: -i[1])),
                tuple(cpu.waited(before, after).items()),
            )
        if not result.complete:
            result.notes.append(
                f"only {result.stored} of {accepted} accepted events were stored "
                f"{settle_timeout:.0f} s after the last POST"
            )
        say(
            f"  API: {result.stored} stored in {result.stored_seconds:.2f} s "
            f"({result.api_rate:.0f} events/s; accepted {result.accept_rate:.0f}/s)"
        )

        documents = list(collection.find({"object_id": api_id}, {"_id": 0}))
        for document in documents:
            document["event_id"] = str(uuid.uuid4())
            document["object_id"] = raw_id
        chunks = batches(documents, batch)
        began = time.monotonic()
        for chunk in chunks:
            collection.insert_many(chunk, ordered=False)
        result.raw_seconds = time.monotonic() - began
        result.raw_events = len(documents)
        say(
            f"  raw insert_many: {len(documents)} in {result.raw_seconds:.2f} s "
            f"({result.raw_rate:.0f} events/s)"
        )
    finally:
        removed = delete_all(collection, {"object_id": {"$in": [api_id, raw_id, warm_id]}})
        say(f"ingestion: removed the run's {removed} documents")
        mongo.close()
        worker.close()
    return result


def delete_all(collection: Any, query: dict[str, Any], *, chunk: int = 10_000) -> int:
    """Delete what ``query`` matches, ``chunk`` documents at a time: FerretDB v1
    deletes a match in one statement with a parameter for each document, and
    PostgreSQL takes at most 65,535 (a run stores tens of thousands)."""
    removed = 0
    while ids := [doc["_id"] for doc in collection.find(query, {"_id": 1}).limit(chunk)]:
        removed += collection.delete_many({"_id": {"$in": ids}}).deleted_count
    return removed


def _probe(mongo_url: str) -> MongoClient[dict[str, Any]]:
    """A client for one quick question: gives up after 3 s, closed by ``with``."""
    return MongoClient(mongo_url, serverSelectionTimeoutMS=3000)


def stored_events(mongo_url: str, database: str) -> int | None:
    """How many events activity's collection holds (None when it cannot be counted)."""
    try:
        with _probe(mongo_url) as client:
            return client[database]["events"].count_documents({})
    except Exception:
        return None


def mongo_server_version(mongo_url: str) -> str:
    try:
        with _probe(mongo_url) as client:
            info = client.admin.command("buildInfo")
    except Exception as error:
        return f"unknown ({error.__class__.__name__})"
    if "ferretdbVersion" in info:
        version = str(info["ferretdbVersion"])
        if version in ("", "unknown"):
            version = f"{_pinned_ferretdb()} (module pinned in scripts/ferretdb/go.mod)"
        return f"FerretDB {version}, reports MongoDB {info.get('version')}"
    return f"MongoDB {info.get('version')}"


def _pinned_ferretdb() -> str:
    go_mod = Path(__file__).resolve().parents[2] / "scripts" / "ferretdb" / "go.mod"
    try:
        for line in go_mod.read_text(encoding="utf-8").splitlines():
            if "github.com/FerretDB/FerretDB " in line:
                return line.split()[-1]
    except OSError:
        pass
    return "version unknown"


if __name__ == "__main__":  # pragma: no cover - manual use
    print(
        run(
            user_url=os.environ.get("SANDBOX_USER_URL", local_url("user")),
            activity_url=local_url("activity"),
            mongo_url=os.environ["SANDBOX_MONGO_URL"],
            database=os.environ.get("SANDBOX_MONGO_DATABASE", "activity"),
            seconds=10.0,
            clients=16,
        )
    )
