"""The outbox's relay kick: the request does not wait for the broker, at most
one kick per relay task is on its way, and kicks that arrive meanwhile fold
into one more after it (so a commit that ends during a publish still gets a
publish that begins after it)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from sandbox_common import outbox

TASK = "relay.test"


class Broker:
    """Stands in for ``celery.publish``: records each publish and can hold it."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.fail = False

    def __call__(self, celery: Any, name: str, **_: Any) -> None:
        self.entered.set()
        self.release.wait(5)
        if self.fail:
            raise ConnectionError("broker down")
        self.published.append(name)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    fake = Broker()
    monkeypatch.setattr(outbox, "publish", fake)
    return fake


async def _until(condition: threading.Event) -> None:
    for _ in range(500):
        if condition.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the kick never reached the broker")


def test_a_kick_returns_before_the_publish(broker: Broker) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        broker.release.clear()
        outbox.kick(object(), TASK)  # type: ignore[arg-type]
        before = list(broker.published)
        broker.release.set()
        await outbox.drain_kicks()
        return before, broker.published

    before, after = asyncio.run(scenario())
    assert before == []
    assert after == [TASK]


def test_kicks_during_a_publish_fold_into_one_more(broker: Broker) -> None:
    celery = object()

    async def scenario() -> list[str]:
        broker.release.clear()
        outbox.kick(celery, TASK)  # type: ignore[arg-type]
        await _until(broker.entered)  # the first publish has begun
        for _ in range(5):
            outbox.kick(celery, TASK)  # type: ignore[arg-type]
        broker.release.set()
        await outbox.drain_kicks()
        return broker.published

    assert asyncio.run(scenario()) == [TASK, TASK]


def test_kicks_before_the_publish_begins_ride_on_it(broker: Broker) -> None:
    celery = object()

    async def scenario() -> list[str]:
        for _ in range(5):
            outbox.kick(celery, TASK)  # type: ignore[arg-type]
        await outbox.drain_kicks()
        return broker.published

    assert asyncio.run(scenario()) == [TASK]


def test_a_failed_kick_is_logged_and_the_next_one_publishes(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[tuple[str, dict[str, Any]]] = []

    class Log:
        def warning(self, message: str, **fields: Any) -> None:
            warnings.append((message, fields))

    monkeypatch.setattr(outbox, "_log", Log())
    celery = object()

    async def scenario() -> list[str]:
        broker.fail = True
        outbox.kick(celery, TASK)  # type: ignore[arg-type]
        await outbox.drain_kicks()
        broker.fail = False
        outbox.kick(celery, TASK)  # type: ignore[arg-type]
        await outbox.drain_kicks()
        return broker.published

    assert asyncio.run(scenario()) == [TASK]
    assert warnings == [("outbox relay kick failed; beat will relay",
                         {"error": "ConnectionError"})]  # fmt: skip


def test_each_relay_task_has_its_own_kick(broker: Broker) -> None:
    celery = object()

    async def scenario() -> list[str]:
        outbox.kick(celery, TASK)  # type: ignore[arg-type]
        outbox.kick(celery, "relay.other")  # type: ignore[arg-type]
        await outbox.drain_kicks()
        return sorted(broker.published)

    assert asyncio.run(scenario()) == ["relay.other", TASK]
