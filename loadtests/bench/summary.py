"""Pure helpers of the bench: reading Locust's CSV, judging a step, choosing the
next step of the search, and the arithmetic of the ingestion figures.

Nothing here talks to a server, so it is unit tested on its own
(tests/loadtests/test_bench_summary.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass


@dataclass(frozen=True)
class LocustAggregate:
    """The ``Aggregated`` row of Locust's ``*_stats.csv``."""

    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def _number(row: dict[str, str], key: str) -> float:
    value = (row.get(key) or "").strip()
    if value in ("", "N/A"):
        return 0.0
    return float(value)


def parse_locust_stats(text: str) -> LocustAggregate:
    """The whole run's figures from the stats CSV (``--csv PREFIX`` writes PREFIX_stats.csv)."""
    for row in csv.DictReader(io.StringIO(text)):
        if (row.get("Name") or "").strip() == "Aggregated":
            return LocustAggregate(
                requests=int(_number(row, "Request Count")),
                failures=int(_number(row, "Failure Count")),
                rps=_number(row, "Requests/s"),
                p50_ms=_number(row, "50%"),
                p95_ms=_number(row, "95%"),
                p99_ms=_number(row, "99%"),
                max_ms=_number(row, "Max Response Time"),
            )
    raise ValueError("no Aggregated row in the Locust stats CSV")


@dataclass(frozen=True)
class RouteFigures:
    name: str  # "<METHOD> <name>", as the SLO file names groups
    requests: int
    failures: int
    p95_ms: float


def parse_locust_routes(text: str) -> list[RouteFigures]:
    """Every request group of the stats CSV that ran, slowest p95 first."""
    routes = []
    for row in csv.DictReader(io.StringIO(text)):
        name = (row.get("Name") or "").strip()
        requests = int(_number(row, "Request Count"))
        if name == "Aggregated" or not requests:
            continue
        routes.append(
            RouteFigures(
                name=f"{(row.get('Type') or '').strip()} {name}",
                requests=requests,
                failures=int(_number(row, "Failure Count")),
                p95_ms=_number(row, "95%"),
            )
        )
    routes.sort(key=lambda route: route.p95_ms, reverse=True)
    return routes


@dataclass(frozen=True)
class Failure:
    route: str
    error: str
    occurrences: int


def parse_locust_failures(text: str) -> list[Failure]:
    """Rows of Locust's ``*_failures.csv``, most frequent first."""
    failures = [
        Failure(
            route=f"{(row.get('Method') or '').strip()} {(row.get('Name') or '').strip()}",
            error=(row.get("Error") or "").strip(),
            occurrences=int(_number(row, "Occurrences")),
        )
        for row in csv.DictReader(io.StringIO(text))
    ]
    failures.sort(key=lambda failure: failure.occurrences, reverse=True)
    return failures


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds by part of the stack over a measured window (cpu.py)."""

    seconds: float  # the window's length
    by_part: tuple[tuple[str, float], ...]  # most first
    # Seconds each part's threads were ready to run but waited for a core.
    waited: tuple[tuple[str, float], ...] = ()

    @property
    def total(self) -> float:
        return sum(spent for _, spent in self.by_part)

    @property
    def waited_total(self) -> float:
        return sum(spent for _, spent in self.waited)

    def ms_per(self, count: int, spent: float | None = None) -> float:
        """Milliseconds of CPU per unit of work (a request, an event)."""
        return 1000.0 * (self.total if spent is None else spent) / count if count else 0.0


@dataclass(frozen=True)
class Step:
    users: int
    aggregate: LocustAggregate | None  # None: Locust produced no figures
    slowest: RouteFigures | None = None
    failures: tuple[Failure, ...] = ()
    cpu: CpuUse | None = None
    # Users running when the window began (None: not reported). Fewer than
    # ``users`` when some stopped during the ramp, e.g. a shopper whose login
    # was refused: the window then held less load than the step names.
    running: int | None = None

    @property
    def short_of_users(self) -> bool:
        return self.running is not None and self.running < self.users

    def passed(self, p95_limit_ms: float) -> bool:
        return not self.short_of_users and step_passes(self.aggregate, p95_limit_ms)

    @property
    def label(self) -> str:
        """The step's users, with those running when fewer were."""
        return f"{self.users} ({self.running} running)" if self.short_of_users else str(self.users)


def step_passes(aggregate: LocustAggregate | None, p95_limit_ms: float) -> bool:
    """Sustained: requests were made, none failed, and the aggregated p95 is under the limit."""
    if aggregate is None or aggregate.requests == 0:
        return False
    return aggregate.failures == 0 and aggregate.p95_ms < p95_limit_ms


def next_users(
    steps: list[Step],
    *,
    start: int,
    factor: float = 2.0,
    max_users: int = 2000,
    min_users: int = 10,
    p95_limit_ms: float = 100.0,
    refinements: int = 1,
    granularity: int = 10,
) -> int | None:
    """Users of the next step, or None when the search is over.

    Grow by ``factor`` from ``start`` while steps pass, or shrink by it (down
    to ``min_users``) while they fail. Once a passing and a failing step
    bracket the limit, try the midpoint up to ``refinements`` times, while the
    gap is wider than a quarter of the best step (and than ``granularity``).
    """
    if not steps:
        return start
    passing = [s.users for s in steps if s.passed(p95_limit_ms)]
    failing = [s.users for s in steps if not s.passed(p95_limit_ms)]
    if not failing:
        top = max(passing)
        if top >= max_users:
            return None
        grown = round(top * factor / granularity) * granularity
        return min(max_users, max(grown, top + granularity))
    lowest_failure = min(failing)
    below = [u for u in passing if u < lowest_failure]
    if not below:
        if lowest_failure <= min_users:
            return None
        shrunk = round(lowest_failure / factor / granularity) * granularity
        return max(min_users, min(shrunk, lowest_failure - granularity))
    bracketed = next(
        i
        for i in range(len(steps))
        if any(s.passed(p95_limit_ms) for s in steps[: i + 1])
        and any(not s.passed(p95_limit_ms) for s in steps[: i + 1])
    )
    if len(steps) - (bracketed + 1) >= refinements:
        return None
    best = max(below)
    gap = lowest_failure - best
    if gap <= max(granularity, best // 4):
        return None
    middle = round((best + gap / 2) / granularity) * granularity
    if middle <= best or middle >= lowest_failure or any(s.users == middle for s in steps):
        return None
    return middle


def best_and_failed(steps: list[Step], p95_limit_ms: float) -> tuple[Step | None, Step | None]:
    """The passing step with the highest request rate below the first failure, and that failure."""
    failing = [s for s in steps if not s.passed(p95_limit_ms)]
    lowest_failure = min(failing, key=lambda s: s.users) if failing else None
    passing = [
        s
        for s in steps
        if s.passed(p95_limit_ms) and (lowest_failure is None or s.users < lowest_failure.users)
    ]
    best = max(passing, key=lambda s: s.aggregate.rps if s.aggregate else 0.0, default=None)
    return best, lowest_failure


# --- ingestion --------------------------------------------------------------


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0..1) of the values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def batches(items: list[dict], size: int) -> list[list[dict]]:
    if size < 1:
        raise ValueError("batch size must be at least 1")
    return [items[index : index + size] for index in range(0, len(items), size)]


# --- the page -----------------------------------------------------------------


def kept_section(text: str, heading: str) -> str:
    """The section ``## heading`` of a Markdown page, up to the next ``## `` heading.

    The bench rewrites docs/performance.md on every run; sections written by
    hand (the profile's findings) are carried over with this.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"## {heading}"), None)
    if start is None:
        return ""
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).rstrip() + "\n"
