"""Where the CPU goes during a bench step: CPU seconds by part of the stack,
read from ``/proc/<pid>/stat`` (user + system time) at the start and the end
of the held window, and the seconds its threads were ready to run but waited
for a core (the second field of each thread's ``/proc/<pid>/task/<tid>/schedstat``).

A process is counted in the part its command line names (``sandbox-serve
catalog``, ``celery ... worker``, ``ferretdb``, ...) or, failing that, in its
nearest ancestor's (uvicorn's worker processes, PostgreSQL's backends, a
Celery pool's children). A PostgreSQL backend is counted by the database it
serves, so the catalog's queries and FerretDB's storage show apart. A process
that started during the window counts from zero; one that ended during it is
lost (pooled connections and workers live longer than a step). The wait is
read per thread, so a thread that ended during the window takes its wait
with it (its CPU stays in the process's stat); the services' threads live
as long as their process.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import NamedTuple

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


class Sample(NamedTuple):
    """One process at one moment: its part of the stack and its totals so far."""

    part: str
    cpu: float  # seconds on a CPU
    waited: float  # seconds ready to run, waiting for a CPU


Snapshot = dict[int, Sample]

_PARTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), part)
    for pattern, part in (
        (r"sandbox-serve\s+(user|catalog|activity)\b", r"\1 service"),
        (r"(^|/)sandbox-worker\b|celery\b.*\bworker\b", "Celery worker"),
        (r"(^|/)sandbox-beat\b|celery\b.*\bbeat\b", "Celery beat"),
        (r"(^|/)ferretdb\b", "FerretDB"),
        # A backend: "postgres: <user> <database> <host(port) or [local]> <state>".
        (r"^postgres: \S+ (\S+) (\[local\]|\S+\(\d+\))", r"PostgreSQL (\1)"),
        (r"(^|/)(postgres|postmaster)\b", "PostgreSQL (server)"),
        (r"(^|/)redis-server\b", "Redis"),
        (r"(^|/)locust\b", "Locust"),
        (r"(^|/)bench\.py\b", "bench (its own process)"),
        (r"(^|/)wrk\b", "wrk"),
        (r"(^|/)prometheus\b|_exporter\b", "Prometheus and exporters"),
    )
)


def part_of(cmdline: str) -> str | None:
    """The part of the stack a command line names, if any."""
    for pattern, part in _PARTS:
        match = pattern.search(cmdline)
        if match:
            return match.expand(part)
    return None


def _stat(pid: str) -> tuple[int, float]:
    """(parent pid, CPU seconds so far) from ``/proc/<pid>/stat``; OSError if gone."""
    fields = (PROC / pid / "stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state, ppid, ..., utime and stime are fields 14 and 15 of stat(5).
    ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
    return ppid, (utime + stime) / TICKS


def process_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has spent so far; 0 if it is gone."""
    try:
        return _stat(str(pid))[1]
    except OSError:
        return 0.0


def _waited(pid: str) -> float:
    """Seconds the process's threads have waited on a run queue (0 where the
    kernel keeps no scheduler statistics)."""
    total = 0
    try:
        for task in (PROC / pid / "task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    except OSError:
        return 0.0
    return total / 1e9


def _read(pid: str) -> tuple[int, float, float, str] | None:
    """(parent pid, CPU seconds, seconds waited for a CPU, command line) of a
    process, or None if gone."""
    try:
        ppid, seconds = _stat(pid)
        cmdline = (
            (PROC / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return None
    return ppid, seconds, _waited(pid), cmdline.strip()


def snapshot() -> Snapshot:
    """Every counted process: pid -> (part, CPU seconds so far)."""
    seen: dict[int, tuple[int, float, float, str]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            read = _read(entry.name)
            if read is not None:
                seen[int(entry.name)] = read
    parts: dict[int, str | None] = {}

    def resolve(pid: int, depth: int = 0) -> str | None:
        if pid in parts:
            return parts[pid]
        if pid not in seen or depth > 32:
            return None
        ppid, _, _, cmdline = seen[pid]
        part = part_of(cmdline) or (resolve(ppid, depth + 1) if ppid > 1 else None)
        parts[pid] = part
        return part

    return {
        pid: Sample(part, seen[pid][1], seen[pid][2])
        for pid in seen
        if (part := resolve(pid)) is not None
    }


def _between(before: Snapshot, after: Snapshot, field: str) -> dict[str, float]:
    """A total's growth by part between two snapshots, most first. A process
    that started during the window counts from zero; one that ended is lost."""
    spent: dict[str, float] = {}
    for pid, sample in after.items():
        start = before.get(pid)
        used = getattr(sample, field) - (
            getattr(start, field) if start is not None and start.part == sample.part else 0.0
        )
        spent[sample.part] = spent.get(sample.part, 0.0) + max(0.0, used)
    return dict(sorted(spent.items(), key=lambda item: item[1], reverse=True))


def usage(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds by part between two snapshots, most first."""
    return _between(before, after, "cpu")


def waited(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Seconds waited for a CPU by part between two snapshots, most first."""
    return _between(before, after, "waited")


class Window(NamedTuple):
    seconds: float
    cpu: dict[str, float]
    waited: dict[str, float]


def measure(before: Snapshot, after: Snapshot, seconds: float) -> Window:
    return Window(seconds, usage(before, after), waited(before, after))


def write(path: Path, window: Window) -> None:
    data = {"seconds": window.seconds, "cpu_seconds": window.cpu,
            "waited_seconds": window.waited}  # fmt: skip
    path.write_text(json.dumps(data, indent=1) + "\n")


def read(path: Path) -> Window | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Window(
        float(data["seconds"]),
        {k: float(v) for k, v in data["cpu_seconds"].items()},
        {k: float(v) for k, v in data.get("waited_seconds", {}).items()},
    )
