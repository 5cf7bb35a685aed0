"""What the page says about the run's conditions: the machine, the versions of the
servers and packages, and the state of the code under test (services/)."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import ingest
from runner import ROOT


def _command_output(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def machine_facts(redis_url: str, mongo_url: str = "") -> dict[str, str]:
    cpu = ""
    for line in _command_output("lscpu").splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    os_name = platform.platform()
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    redis_version = ""
    try:
        import redis

        redis_version = str(redis.Redis.from_url(redis_url).info("server").get("redis_version"))
    except Exception as error:
        redis_version = f"unknown ({error.__class__.__name__})"
    facts = {
        "CPU": f"{cpu or platform.processor()} ({os.cpu_count()} logical cores)",
        "Memory": memory,
        "OS": f"{os_name}, kernel {platform.release()}",
        "Python": platform.python_version(),
        "wrk": _command_output("wrk", "-v").splitlines()[0] if shutil.which("wrk") else "",
        "Redis server": redis_version,
        "MongoDB-protocol server": ingest.mongo_server_version(mongo_url) if mongo_url else "",
    }
    packages = ("uvicorn", "uvloop", "httptools", "fastapi", "starlette", "pydantic", "redis",
                "celery", "kombu", "pymongo", "httpx", "locust")  # fmt: skip
    for package in packages:
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


def code_state() -> str:
    """The commit, the tree of services/, and a digest of uncommitted changes under it.

    Servers are started from the working tree, so an edit during a run would
    change what later phases measure; the bench checks this before each one.
    """
    commit = _command_output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD") or "?"
    tree = _command_output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD:services")
    diff = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "diff", "HEAD", "--", "services"],  # noqa: S607
        capture_output=True,
        check=False,
    ).stdout
    state = f"commit {commit}, services/ tree {tree or '?'}"
    if not diff:
        return state + " as committed"
    files = diff.count(b"\ndiff --git ") + (1 if diff.startswith(b"diff --git ") else 0)
    digest = hashlib.sha1(diff, usedforsecurity=False).hexdigest()[:12]
    return f"{state} + uncommitted changes in {files} file(s) (diff {digest})"


def services_part(state: str) -> str:
    """What identifies the code under test: the state without the commit."""
    return state.split(", ", 1)[-1]
