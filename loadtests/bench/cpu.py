"""Where the CPU goes during a bench step: CPU seconds by part of the stack,
read from ``/proc/<pid>/stat`` (user + system time) at the start and the end
of the held window.

A process is counted in the part its command line names (``sandbox-serve
catalog``, ``celery ... worker``, ``ferretdb``, ...) or, failing that, in its
nearest ancestor's (uvicorn's worker processes, PostgreSQL's backends, a
Celery pool's children). A PostgreSQL backend is counted by the database it
serves, so the catalog's queries and FerretDB's storage show apart. A process
that started during the window counts from zero; one that ended during it is
lost (pooled connections and workers live longer than a step).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")
Snapshot = dict[int, tuple[str, float]]  # pid -> (part of the stack, CPU seconds so far)

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


def _read(pid: str) -> tuple[int, float, str] | None:
    """(parent pid, CPU seconds, command line) of a process, or None if gone."""
    try:
        stat = (PROC / pid / "stat").read_text()
        cmdline = (
            (PROC / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    # After the command: state, ppid, ..., utime and stime are fields 14 and 15 of stat(5).
    ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
    return ppid, (utime + stime) / TICKS, cmdline.strip()


def snapshot() -> Snapshot:
    """Every counted process: pid -> (part, CPU seconds so far)."""
    seen: dict[int, tuple[int, float, str]] = {}
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
        ppid, _, cmdline = seen[pid]
        part = part_of(cmdline) or (resolve(ppid, depth + 1) if ppid > 1 else None)
        parts[pid] = part
        return part

    return {pid: (part, seen[pid][1]) for pid in seen if (part := resolve(pid)) is not None}


def usage(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds by part between two snapshots, most first."""
    spent: dict[str, float] = {}
    for pid, (part, seconds) in after.items():
        start = before.get(pid)
        used = seconds - start[1] if start is not None and start[0] == part else seconds
        spent[part] = spent.get(part, 0.0) + max(0.0, used)
    return dict(sorted(spent.items(), key=lambda item: item[1], reverse=True))


def write(path: Path, seconds: float, spent: dict[str, float]) -> None:
    path.write_text(json.dumps({"seconds": seconds, "cpu_seconds": spent}, indent=1) + "\n")


def read(path: Path) -> tuple[float, dict[str, float]] | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return float(data["seconds"]), {k: float(v) for k, v in data["cpu_seconds"].items()}
