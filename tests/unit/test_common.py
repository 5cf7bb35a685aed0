"""The shared package's pure parts: cursors, request ids, errors, logging."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import select
import threading
import uuid
from typing import Any

import pytest
import structlog
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from sandbox_common import batching, metrics
from sandbox_common.context import accept_request_id, is_valid_request_id
from sandbox_common.contract import ActivityEvent
from sandbox_common.errors import Conflict, install_error_handlers
from sandbox_common.health import health_router
from sandbox_common.logging import (
    FLUSH_SECONDS,
    AccessLog,
    BufferedLines,
    configure_logging,
    get_logger,
)
from sandbox_common.metrics import status_class
from sandbox_common.middleware import RequestMiddleware
from sandbox_common.pagination import BadCursor, decode_cursor, encode_cursor


def test_cursor_round_trip() -> None:
    values = ["price", "10.00", "3f1c"]
    assert decode_cursor(encode_cursor(values), length=3) == values


@pytest.mark.parametrize("cursor", ["", "!!!", "e30", "WzFd", "x" * 600, "bnVsbA"])
def test_bad_cursors(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor, length=3)


@pytest.mark.parametrize(
    ("value", "valid"),
    [("abc12345", True), ("a" * 128, True), ("a" * 129, False), ("short", False),
     ("with space1", False), ("line\nbreak1", False), (None, False)],
)  # fmt: skip
def test_request_id_validation(value: str | None, valid: bool) -> None:
    assert is_valid_request_id(value) is valid
    accepted = accept_request_id(value)
    assert (accepted == value) is valid
    assert is_valid_request_id(accepted)


def test_status_class() -> None:
    assert [status_class(s) for s in (200, 204, 304, 404, 503)] == ["2xx", "2xx", "3xx", "4xx",
                                                                     "5xx"]  # fmt: skip


def _app() -> FastAPI:
    app = FastAPI()
    router = APIRouter()

    @router.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        if item_id == 1:
            raise Conflict("taken")
        if item_id == 2:
            raise RuntimeError("boom with SELECT * FROM secrets")
        return {"id": item_id}

    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware)
    return app


def test_errors_have_the_contract_shape_and_leak_nothing() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    conflict = client.get("/items/1", headers={"X-Request-ID": "req-12345678"})
    assert conflict.status_code == 409
    assert conflict.json() == {"detail": "taken", "request_id": "req-12345678"}
    assert conflict.headers["x-request-id"] == "req-12345678"

    crash = client.get("/items/2")
    assert crash.status_code == 500
    assert crash.json() == {"detail": "Internal server error",
                            "request_id": crash.headers["x-request-id"]}  # fmt: skip
    assert "SELECT" not in crash.text

    invalid = client.get("/items/abc")
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["request_id"] == invalid.headers["x-request-id"]
    assert body["detail"][0]["loc"] == ["path", "item_id"]
    assert "input" not in body["detail"][0]

    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert set(missing.json()) == {"detail", "request_id"}


def _requests_counted(route: str) -> float:
    return sum(
        sample.value
        for family in metrics.HTTP_REQUESTS.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("route") == route
    )


def test_probes_and_scrapes_are_neither_logged_nor_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _app()
    app.include_router(health_router())
    app.state.readiness_checks = {}
    logged: list[str] = []
    monkeypatch.setattr(
        "sandbox_common.middleware._log",
        type("Log", (), {"write": lambda _, **line: logged.append(line["path"])})(),
    )
    before = {route: _requests_counted(route) for route in ("/healthz", "/readyz", "/metrics")}
    items_before = _requests_counted("/items/{item_id}")
    client = TestClient(app)
    for path in ("/healthz", "/readyz", "/metrics"):
        answer = client.get(path, headers={"X-Request-ID": "probe-12345678"})
        assert answer.status_code == 200
        assert answer.headers["x-request-id"] == "probe-12345678"
    assert client.get("/items/7").status_code == 200
    assert logged == ["/items/7"]
    assert {route: _requests_counted(route) for route in before} == before
    assert _requests_counted("/items/{item_id}") == items_before + 1


def test_logs_are_ecs_json_with_the_request_id_and_no_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    monkeypatch.setattr("sys.stdout", stream)
    configure_logging(service="unit", level="INFO", fmt="json")
    structlog.contextvars.bind_contextvars(request_id="req-abcdefgh")
    try:
        get_logger("unit.test").info(
            "hello", password="hunter22", refresh_token="rt-secret", user_id="u1"
        )
        logging.getLogger("uvicorn.error").warning("from the standard library")
    finally:
        structlog.contextvars.clear_contextvars()
    stream.flush()
    output = stream.buffer.getvalue().decode()  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in output.splitlines()]
    first, second = lines
    assert first["message"] == "hello"
    assert first["log.level"] == "info"
    assert first["service.name"] == "unit"
    assert first["request_id"] == "req-abcdefgh"
    assert "@timestamp" in first
    assert first["user_id"] == "u1"
    assert first["log.logger"] == "unit.test"
    assert "hunter22" not in output
    assert "rt-secret" not in output
    assert second["message"] == "from the standard library"
    assert second["log.level"] == "warning"
    assert second["log.logger"] == "uvicorn.error"


def _json_lines(stream: io.TextIOWrapper) -> list[dict[str, Any]]:
    stream.flush()
    output = stream.buffer.getvalue().decode()  # type: ignore[attr-defined]
    return [json.loads(line) for line in output.splitlines()]


@pytest.mark.parametrize("error", [False, True])
def test_the_access_line_is_the_line_the_processor_chain_renders(
    monkeypatch: pytest.MonkeyPatch, error: bool
) -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    monkeypatch.setattr("sys.stdout", stream)
    configure_logging(service="unit", level="INFO", fmt="json")
    status = 500 if error else 200
    fields = {"http.request.method": "GET", "url.path": "/items/7", "http.route": "/items/{id}",
              "http.response.status_code": status, "event.duration": 1_234_000,
              "client.ip": "127.0.0.1"}  # fmt: skip
    structlog.contextvars.bind_contextvars(request_id="req-abcdefgh")
    try:
        chain = get_logger("sandbox.access")
        (chain.error if error else chain.info)("request", **fields)
    finally:
        structlog.contextvars.clear_contextvars()
    AccessLog("sandbox.access").write(
        method="GET", path="/items/7", route="/items/{id}", status=status, seconds=0.001234,
        client_ip="127.0.0.1", request_id="req-abcdefgh",
    )  # fmt: skip
    by_chain, by_access_log = _json_lines(stream)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", by_access_log["@timestamp"])
    assert by_access_log["@timestamp"] >= by_chain.pop("@timestamp")
    by_access_log.pop("@timestamp")
    assert by_access_log == by_chain
    assert by_chain["log.level"] == ("error" if error else "info")


def test_the_access_line_keeps_to_the_level(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    monkeypatch.setattr("sys.stdout", stream)
    configure_logging(service="unit", level="WARNING", fmt="json")
    access = AccessLog("sandbox.access")
    for path, status in (("/a", 200), ("/b", 503), ("/c", 404)):
        access.write(method="GET", path=path, route=path, status=status, seconds=0.001,
                     client_ip=None, request_id="req-abcdefgh")  # fmt: skip
    (line,) = _json_lines(stream)
    assert line["url.path"] == "/b"
    assert line["log.level"] == "error"
    assert "client.ip" not in line


class _Descriptor:
    """A file descriptor's writes, one entry per system call; each takes at
    most ``limit`` bytes, as a pipe may."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.writes: list[bytes] = []
        self.limit = limit

    def write(self, data: memoryview) -> int:
        self.writes.append(bytes(data[: self.limit]))
        return min(len(data), self.limit)

    def flush(self) -> None:
        pass


def _line(n: int, width: int = 300) -> bytes:
    return json.dumps({"n": n, "pad": "x" * width}).encode() + b"\n"


def test_lines_on_a_running_loop_go_out_together_in_whole_lines() -> None:
    descriptor = _Descriptor()
    output = BufferedLines(descriptor)  # type: ignore[arg-type]
    lines = [_line(n) for n in range(40)]

    async def serve() -> None:
        for line in lines:
            output.write(line)
            output.flush()
        assert descriptor.writes == []
        # The write is due before this sleep ends (timers run in deadline order).
        await asyncio.sleep(FLUSH_SECONDS * 2)

    asyncio.run(serve())
    assert b"".join(descriptor.writes) == b"".join(lines)
    assert 1 < len(descriptor.writes) < len(lines)
    for written in descriptor.writes:
        assert len(written) <= select.PIPE_BUF
        assert written.endswith(b"\n")


def test_lines_anywhere_else_go_out_at_once_and_none_is_left_behind() -> None:
    descriptor = _Descriptor(limit=1000)
    output = BufferedLines(descriptor)  # type: ignore[arg-type]
    long_line = _line(0, width=select.PIPE_BUF * 2)

    async def serve_and_stop() -> None:
        output.write(_line(1))
        output.flush()

    # The loop stops before its write was due: the next line takes both out.
    asyncio.run(serve_and_stop())
    assert descriptor.writes == []
    output.write(long_line)
    output.flush()
    assert b"".join(descriptor.writes) == _line(1) + long_line
    # A short write (a pipe's) is carried on until the whole line is out.
    assert len(descriptor.writes) > 2

    written = threading.Thread(target=lambda: (output.write(_line(2)), output.flush()))
    written.start()
    written.join()
    assert descriptor.writes[-1] == _line(2)


def test_api_docs_pages_load_their_assets_from_the_service_not_a_cdn() -> None:
    from sandbox_common.app import create_app
    from sandbox_common.settings import CommonSettings

    settings = CommonSettings(redis_url="redis://127.0.0.1:1/0", broker_url="redis://127.0.0.1:1/1")
    app = create_app(service="unit", settings=settings, routers=[], readiness_checks=lambda _: {})
    client = TestClient(app)
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200, page
        assert not re.search(r"https?://", html.text), f"{page} reaches out of the service"
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html.text)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            assert client.get(asset).status_code == 200, asset


def _numbered(n: int) -> ActivityEvent:
    return ActivityEvent.new(type="product.viewed", user_id=uuid.UUID(int=1), object_id="p",
                             metadata={"n": n})  # fmt: skip


class TestEventPublisherStop:
    """stop() publishes everything accepted, the batch the runner is still
    gathering included (the broker replaced by a recorder: a unit test)."""

    def test_the_batch_being_gathered_is_published_on_stop(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        published: list[dict[str, object]] = []
        monkeypatch.setattr(batching, "publish",
                            lambda app, name, *, kwargs, request_id: published.extend(kwargs["events"]))  # fmt: skip

        async def scenario() -> None:
            # A long linger: the runner is mid-batch when stop() comes.
            publisher = batching.EventPublisher(None, linger_seconds=30)  # type: ignore[arg-type]
            publisher.start()
            for n in range(5):
                await publisher.submit(_numbered(n), wait=False)
            await asyncio.sleep(0.05)  # the runner has taken them
            await asyncio.wait_for(publisher.stop(), 10)
            await publisher.submit(_numbered(5), wait=False)  # after stop: the queue keeps it
            await publisher.stop()

        asyncio.run(scenario())
        assert [e["metadata"]["n"] for e in published] == [0, 1, 2, 3, 4, 5]  # type: ignore[index]


class TestEventPublisherPipeline:
    """The next batch gathers and goes out while earlier ones are still on
    their way to the broker, up to max_in_flight (broker replaced by a recorder)."""

    def test_a_slow_send_does_not_hold_the_next_batch(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        release = threading.Event()
        sizes: list[int] = []
        started = threading.Semaphore(0)

        def slow_publish(
            app: object, name: str, *, kwargs: dict[str, Any], request_id: object
        ) -> None:
            sizes.append(len(kwargs["events"]))
            started.release()
            release.wait(10)

        monkeypatch.setattr(batching, "publish", slow_publish)

        async def scenario() -> list[int]:
            publisher = batching.EventPublisher(None, linger_seconds=0.001, max_in_flight=2)  # type: ignore[arg-type]
            publisher.start()
            first = asyncio.create_task(publisher.submit(_numbered(0), wait=True))
            await asyncio.to_thread(started.acquire, True, 10)
            second = asyncio.create_task(publisher.submit(_numbered(1), wait=True))
            # The first send is still blocked: the second one goes out beside it.
            assert await asyncio.to_thread(started.acquire, True, 10)
            for n in range(2, 5):  # both slots taken: these gather into one batch
                await publisher.submit(_numbered(n), wait=False)
            await asyncio.sleep(0.05)
            in_flight = list(sizes)
            release.set()
            await asyncio.wait_for(asyncio.gather(first, second), 10)
            await publisher.stop()
            return in_flight

        assert asyncio.run(scenario()) == [1, 1]
        assert sizes == [1, 1, 3]

    def test_a_batch_holds_at_most_max_batch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        sizes: list[int] = []
        monkeypatch.setattr(batching, "publish",
                            lambda app, name, *, kwargs, request_id: sizes.append(len(kwargs["events"])))  # fmt: skip

        async def scenario() -> None:
            publisher = batching.EventPublisher(None, max_batch=100, linger_seconds=30)  # type: ignore[arg-type]
            publisher.start()
            await asyncio.wait_for(
                asyncio.gather(*(publisher.submit(_numbered(n), wait=True) for n in range(200))), 10
            )  # a full batch does not wait out the 30 s linger
            await publisher.stop()

        asyncio.run(scenario())
        assert sizes == [100, 100]


class TestEventPublisherBackgroundLinger:
    """Events nobody waits for gather longer, until someone waits for one
    (broker replaced by a recorder)."""

    @staticmethod
    def _record(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
        batches: list[list[int]] = []
        monkeypatch.setattr(batching, "publish", lambda app, name, *, kwargs, request_id:
                            batches.append([e["metadata"]["n"] for e in kwargs["events"]]))  # fmt: skip
        return batches

    @staticmethod
    def _started(background_linger_seconds: float) -> batching.EventPublisher:
        publisher = batching.EventPublisher(
            None,  # type: ignore[arg-type]
            linger_seconds=0.001,
            background_linger_seconds=background_linger_seconds,
        )
        publisher.start()
        return publisher

    def test_fire_and_forget_events_gather_into_one_batch(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        batches = self._record(monkeypatch)

        async def scenario() -> None:
            publisher = self._started(0.5)
            for n in range(5):  # further apart than the short linger
                await publisher.submit(_numbered(n), wait=False)
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.7)
            await publisher.stop()

        asyncio.run(scenario())
        assert batches == [[0, 1, 2, 3, 4]]

    def test_an_event_someone_waits_for_ends_the_background_linger(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        batches = self._record(monkeypatch)

        async def scenario() -> None:
            publisher = self._started(60)
            for n in range(3):
                await publisher.submit(_numbered(n), wait=False)
            await asyncio.sleep(0.05)
            # Far sooner than the background linger: the waiter hurries the batch.
            await asyncio.wait_for(publisher.submit(_numbered(3), wait=True), 5)
            await publisher.stop()

        asyncio.run(scenario())
        assert batches == [[0, 1, 2, 3]]


def test_an_error_after_the_response_started_reaches_the_server() -> None:
    """Too late for a 500: the middleware logs it and lets it through, so the
    server aborts the connection instead of ending a truncated body cleanly."""

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"part", "more_body": True})  # type: ignore[operator]
        raise RuntimeError("the stream broke")

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""}
    with pytest.raises(RuntimeError, match="the stream broke"):
        asyncio.run(RequestMiddleware(app, observe=False)(scope, receive, send))  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_every_route_exports_its_5xx_counter_from_the_start() -> None:
    """A counter series first exported at 1 never shows in rate(): the first
    5xx of a route would reach no ratio, dashboard or alert (found by the
    broker-down scenario: its 503s left the 5xx ratio at 0)."""
    from prometheus_client import generate_latest

    router = APIRouter(prefix="/api/v1/zero")

    @router.post("/things")
    async def things() -> dict[str, str]:
        return {}

    metrics.initialize_request_series(router)
    text = generate_latest().decode()
    for cls in ("2xx", "4xx", "5xx"):
        assert (
            f'sandbox_http_requests_total{{method="POST",route="/api/v1/zero/things",'
            f'status_class="{cls}"}} 0.0' in text
        )


def test_every_task_exports_its_retried_and_failed_counters_from_the_start() -> None:
    """The worker starts every task's counter at 0 in each state: a first retry
    exported at 1 would never show in rate(), and the alert on retries without
    success found no series to read while nothing had retried."""
    from prometheus_client import REGISTRY

    from sandbox_common.contract import TASK_NAMES

    metrics.initialize_task_series(TASK_NAMES)
    for name in TASK_NAMES:
        for state in metrics.CELERY_TASK_STATES:
            labels = {"task": name, "state": state}
            # Exported, whatever other tests have counted in this process.
            assert REGISTRY.get_sample_value("sandbox_celery_tasks_total", labels) is not None
