"""The tool checks that run before anything long starts: a missing or old
tool stops with one line naming the fix (scripts/stack.py, scripts/go.sh)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.utils.stack import ROOT, stack_module

stack = stack_module()


def fake_tool(directory: Path, name: str, says: str) -> None:
    tool = directory / name
    tool.write_text(f"#!/bin/sh\necho '{says}'\n")
    tool.chmod(0o755)


@pytest.mark.parametrize(
    ("name", "says", "ok"),
    [("redis-server", "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0", True),
     ("redis-server", "Redis server v=6.0.16 sha=00000000:0", False),
     ("postgres", "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", True),
     ("postgres", "postgres (PostgreSQL) 12.22", False),
     ("prometheus", "prometheus, version 2.42.0+ds (branch: debian/sid)", True),
     ("prometheus", "prometheus, version 2.31.2+ds1", False),
     ("prometheus", "no version here", False),
     ("promtool", "promtool, version 2.42.0+ds (branch: debian/sid)", True)],
)  # fmt: skip
def test_versions_are_read_and_held_to_the_minimum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, says: str, ok: bool
) -> None:
    fake_tool(tmp_path, name, says)
    monkeypatch.setenv("PATH", str(tmp_path))
    problem = stack.tool_problem(name)
    if ok:
        assert problem is None
    else:
        minimum, install = stack.REQUIRED[name]
        assert problem is not None
        assert f"{minimum} or newer" in problem
        assert install in problem


def test_a_missing_tool_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    problem = stack.tool_problem("redis-server")
    assert problem is not None
    assert "not found" in problem
    assert "apt-get install" in problem


def installed_go() -> str | None:
    """A Go where scripts/go.sh looks for one: on PATH, then where packages put it."""
    candidates = [shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go",
                  *glob.glob("/usr/lib/go-*/bin/go")]  # fmt: skip
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def test_go_sh_gives_a_go_at_least_as_new_as_it_requires() -> None:
    if installed_go() is None:
        pytest.skip("no Go installed here (scripts/go.sh needs one to start from)")
    found = subprocess.run(["bash", str(ROOT / "scripts" / "go.sh")], capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert found.returncode == 0, found.stderr
    minimum = next(line.split("=")[1].split()[0]
                   for line in (ROOT / "scripts" / "go.sh").read_text().splitlines()
                   if line.startswith("GO_MIN="))  # fmt: skip
    version = subprocess.run([found.stdout.strip(), "env", "GOVERSION"], capture_output=True,
                             text=True, check=True, cwd="/").stdout.strip()  # fmt: skip
    have = tuple(int(p) for p in version.removeprefix("go").split("."))
    assert have >= tuple(int(p) for p in minimum.split(".")), (version, minimum)


def test_a_port_another_program_holds_is_named_with_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        monkeypatch.setattr(stack, "ports", lambda: {"prometheus": port, "mongo": port})
        monkeypatch.setattr(stack, "running", set)  # none of them is the stack's own
        plan = stack.Plan()  # starts no datastore: their ports are not its business
        (problem,) = stack.port_problems(plan)
        assert f"port {port}" in problem
        assert "SANDBOX_LOCAL_PROMETHEUS_PORT" in problem
        plan.start_mongo = True
        assert len(stack.port_problems(plan)) == 2
        # The stack's own processes on their ports are no problem.
        monkeypatch.setattr(stack, "running", lambda: {"prometheus", "mongo"})
        assert stack.port_problems(plan) == []
    monkeypatch.setattr(stack, "running", set)
    assert stack.port_problems(plan) == []
