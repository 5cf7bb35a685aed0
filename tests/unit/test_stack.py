"""How scripts/stack.py starts and stops: a start that fails stops what it
began, and `with-stack` stops only what it started (its process table faked:
a unit test of the orchestration; the real starts are the integration tests')."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.stack import stack_module

stack = stack_module()
EVERYTHING = set(stack.ports())


def states(*sets: set[str]) -> Iterator[set[str]]:
    yield from sets
    while True:
        yield sets[-1]


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[set[str] | None]:
    calls: list[set[str] | None] = []
    monkeypatch.setattr(stack, "down", lambda only=None: calls.append(only))
    monkeypatch.setattr(stack, "say", lambda message: None)
    return calls


def test_a_failed_start_stops_what_it_began(
    monkeypatch: pytest.MonkeyPatch, stopped: list[set[str] | None]
) -> None:
    table = states({"redis"}, {"redis", "postgres", "mongo"})
    monkeypatch.setattr(stack, "running", lambda: next(table))

    def start() -> None:
        raise SystemExit(1)  # what fail() does when a process is not ready

    monkeypatch.setattr(stack, "_start", start)
    with pytest.raises(SystemExit):
        stack.up()
    assert stopped == [{"postgres", "mongo"}]  # redis ran before: it is left alone


def test_with_stack_stops_only_what_it_started(
    monkeypatch: pytest.MonkeyPatch, stopped: list[set[str] | None]
) -> None:
    table = states({"postgres", "redis"}, EVERYTHING)
    monkeypatch.setattr(stack, "running", lambda: next(table))
    monkeypatch.setattr(stack, "stack_is_up", lambda: False)
    monkeypatch.setattr(stack, "up", lambda: None)
    monkeypatch.setattr(stack, "read_env_file", lambda path: {})
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 3))
    monkeypatch.delenv("SANDBOX_KEEP_STACK", raising=False)
    assert stack.with_stack(["true"]) == 3
    assert stopped == [EVERYTHING - {"postgres", "redis"}]


def test_with_stack_leaves_a_running_stack_running(
    monkeypatch: pytest.MonkeyPatch, stopped: list[set[str] | None]
) -> None:
    monkeypatch.setattr(stack, "running", lambda: set(EVERYTHING))
    monkeypatch.setattr(stack, "stack_is_up", lambda: True)
    monkeypatch.setattr(stack, "read_env_file", lambda path: {})
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    assert stack.with_stack(["true"]) == 0
    assert stopped == []


def test_a_dead_process_not_yet_reaped_is_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed process whose parent has not reaped it (with-stack, during make
    test) is a zombie: signal 0 still reaches it. It counts as gone, so the
    worker-killed scenario can start a new worker."""
    import os
    import signal
    import time

    monkeypatch.setattr(stack, "RUN", tmp_path)
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
    try:
        stack.pid_file("probe").write_text(str(child))
        assert stack.running_pid("probe") == child
        os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not stack._zombie(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(child, 0)  # still there, as a zombie
        assert stack.running_pid("probe") is None
    finally:
        os.waitpid(child, 0)


def test_one_service_can_run_more_web_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """SANDBOX_<SERVICE>_WEB_CONCURRENCY reaches that service's processes only;
    SANDBOX_WEB_CONCURRENCY, if given, still reaches every service."""
    monkeypatch.setattr(stack, "credentials", lambda: {
        "SANDBOX_ADMIN_EMAIL": "admin@example.test", "SANDBOX_ADMIN_PASSWORD": "x",
        "SANDBOX_LOCAL_PG_PASSWORD": "y"})  # fmt: skip
    monkeypatch.setenv("SANDBOX_CATALOG_WEB_CONCURRENCY", "2")
    monkeypatch.delenv("SANDBOX_WEB_CONCURRENCY", raising=False)
    spawned: dict[str, dict[str, str]] = {}
    monkeypatch.setattr(stack, "spawn", lambda name, argv, env: spawned.update({name: env}))
    stack.start_app(stack.make_plan())
    assert spawned["catalog"]["SANDBOX_WEB_CONCURRENCY"] == "2"
    assert "SANDBOX_WEB_CONCURRENCY" not in spawned["user"]
    assert "SANDBOX_WEB_CONCURRENCY" not in spawned["activity"]
    assert "SANDBOX_WEB_CONCURRENCY" not in spawned["worker"]


def test_the_catalog_runs_two_web_processes_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stack, "credentials", lambda: {
        "SANDBOX_ADMIN_EMAIL": "admin@example.test", "SANDBOX_ADMIN_PASSWORD": "x",
        "SANDBOX_LOCAL_PG_PASSWORD": "y"})  # fmt: skip
    for variable in (*stack.WEB_CONCURRENCY_OF.values(), "SANDBOX_WEB_CONCURRENCY"):
        monkeypatch.delenv(variable, raising=False)
    spawned: dict[str, dict[str, str]] = {}
    monkeypatch.setattr(stack, "spawn", lambda name, argv, env: spawned.update({name: env}))
    stack.start_app(stack.make_plan())
    assert spawned["catalog"]["SANDBOX_WEB_CONCURRENCY"] == "2"
    assert "SANDBOX_WEB_CONCURRENCY" not in spawned["user"]
    # One value for every service, when given, holds for the catalog too.
    monkeypatch.setenv("SANDBOX_WEB_CONCURRENCY", "1")
    stack.start_app(stack.make_plan())
    assert spawned["catalog"]["SANDBOX_WEB_CONCURRENCY"] == "1"
