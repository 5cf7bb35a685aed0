"""Password hashing's bounds (user_service.hashing): at most ``concurrency``
hashes at once, in threads; a caller beyond the waiting room, or one that
waited too long, is shed with 503 and Retry-After, and nothing is left held."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client import REGISTRY

from user_service import security
from user_service.config import usable_cpus
from user_service.hashing import HashingOverloaded, PasswordHashing


class Gate:
    """A stand-in for argon2: each hash blocks until released; counts how
    many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.most = 0
        self.started = 0
        self._lock = threading.Lock()

    def __call__(self, password: str) -> str:
        with self._lock:
            self.running += 1
            self.started += 1
            self.most = max(self.most, self.running)
        try:
            self.release.wait(10)
            return f"hashed:{password}"
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()
    monkeypatch.setattr(security, "hash_password", gate)
    yield gate
    gate.release.set()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.01)


def test_no_more_than_the_concurrency_run_at_once(gate: Gate) -> None:
    bounded = PasswordHashing(concurrency=2, max_waiting=10, max_wait_seconds=5)
    results: list[str] = []

    async def scenario() -> None:
        async def one(i: int) -> None:
            results.append(await bounded.hash(f"p{i}"))

        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(one, i)
            await until(lambda: gate.running == 2 and bounded._waiting == 4)
            assert sample("sandbox_password_hashing_in_progress") == 2
            assert sample("sandbox_password_hashing_waiting") == 4
            gate.release.set()

    anyio.run(scenario)
    assert sorted(results) == [f"hashed:p{i}" for i in range(6)]
    assert gate.most == 2
    assert sample("sandbox_password_hashing_in_progress") == 0
    assert sample("sandbox_password_hashing_waiting") == 0


def test_a_caller_beyond_the_waiting_room_is_shed_at_once(gate: Gate) -> None:
    bounded = PasswordHashing(concurrency=1, max_waiting=1, max_wait_seconds=5)
    shed_before = sample("sandbox_password_hashing_shed_total", reason="queue_full")
    outcomes: dict[str, Any] = {}

    async def scenario() -> None:
        async def one(name: str) -> None:
            try:
                outcomes[name] = await bounded.hash(name)
            except HashingOverloaded as exc:
                outcomes[name] = exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "running")
            await until(lambda: gate.running == 1)
            tg.start_soon(one, "waiting")
            await until(lambda: bounded._waiting == 1)
            await one("shed")  # answered while the others still hold their places
            assert gate.started == 1
            gate.release.set()

    anyio.run(scenario)
    assert outcomes["running"] == "hashed:running"
    assert outcomes["waiting"] == "hashed:waiting"
    shed = outcomes["shed"]
    assert isinstance(shed, HashingOverloaded)
    assert shed.status_code == 503
    assert shed.headers == {"Retry-After": "5"}
    assert sample("sandbox_password_hashing_shed_total", reason="queue_full") == shed_before + 1
    assert gate.started == 2  # the shed caller never hashed


def test_a_caller_that_waits_too_long_is_shed_and_its_place_freed(gate: Gate) -> None:
    bounded = PasswordHashing(concurrency=1, max_waiting=5, max_wait_seconds=0.2)
    shed_before = sample("sandbox_password_hashing_shed_total", reason="waited_too_long")

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(bounded.hash, "slow")
            await until(lambda: gate.running == 1)
            with pytest.raises(HashingOverloaded) as shed:
                await bounded.hash("late")
            assert shed.value.headers == {"Retry-After": "1"}
            assert bounded._waiting == 0
            gate.release.set()
        # The slot came back: the next caller runs.
        assert await bounded.hash("next") == "hashed:next"

    anyio.run(scenario)
    assert (
        sample("sandbox_password_hashing_shed_total", reason="waited_too_long") == shed_before + 1
    )
    assert gate.started == 2


def test_verify_goes_through_the_same_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    bounded = PasswordHashing(concurrency=1, max_waiting=0, max_wait_seconds=1)
    release = threading.Event()

    def slow_verify(password_hash: str | None, password: str) -> bool:
        release.wait(10)
        return password_hash == f"hashed:{password}"

    monkeypatch.setattr(security, "verify_password", slow_verify)

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(bounded.verify, "hashed:a", "a")
            await until(lambda: sample("sandbox_password_hashing_in_progress") == 1)
            with pytest.raises(HashingOverloaded):
                await bounded.verify("hashed:b", "b")
            release.set()
        assert await bounded.verify("hashed:c", "c") is True

    anyio.run(scenario)


def test_real_hashes_verify_through_the_gate() -> None:
    bounded = PasswordHashing(concurrency=2, max_waiting=2, max_wait_seconds=5)

    async def scenario() -> tuple[bool, bool]:
        stored = await bounded.hash("correct horse")
        return await bounded.verify(stored, "correct horse"), await bounded.verify(stored, "wrong")

    assert anyio.run(scenario) == (True, False)


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000\n", None), ("100000 100000\n", 1), ("150000 100000\n", 2), ("garbage", None)],
)
def test_the_default_concurrency_follows_the_cgroup_quota(
    tmp_path: Path, cpu_max: str, expected: int | None
) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    cores = len(os.sched_getaffinity(0))
    assert usable_cpus(path) == (cores if expected is None else min(cores, expected))
    assert usable_cpus(tmp_path / "absent") == cores
