"""The mixed workload's curve: request rate and p95 against users, one line
per bench run, as an SVG the performance page shows (people read a curve
faster than a table).

Each run's steps are kept in a small JSON history beside the page, so the
next run draws its line over the earlier ones. Pure functions, no plotting
library: the page stays reproducible from the repository alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.sax.saxutils import escape

KEEP_RUNS = 6  # the newest runs the chart draws
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
WIDTH, HEIGHT = 860, 340
PANEL_W, PANEL_H = 340, 220
MARGIN_LEFT, MARGIN_TOP = 70, 40
GAP = 90


@dataclass(frozen=True)
class Point:
    users: int
    rps: float
    p95_ms: float
    passed: bool


@dataclass(frozen=True)
class Run:
    label: str  # when and at which commit, as the page says it
    points: tuple[Point, ...]

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Run:
        points = data["points"]
        assert isinstance(points, list)
        return cls(str(data["label"]), tuple(Point(**p) for p in points))


def load_history(path: Path) -> list[Run]:
    if not path.exists():
        return []
    return [Run.from_json(run) for run in json.loads(path.read_text())]


def save_history(path: Path, runs: list[Run]) -> None:
    data = [{"label": r.label, "points": [asdict(p) for p in r.points]} for r in runs]
    path.write_text(json.dumps(data, indent=1) + "\n")


def with_run(runs: list[Run], run: Run) -> list[Run]:
    """The history with ``run`` added last, the oldest beyond KEEP_RUNS dropped."""
    return [*runs, run][-KEEP_RUNS:]


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


LOG_TICKS = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)


def _panel(
    runs: list[Run],
    *,
    left: float,
    title: str,
    value: str,
    unit: str,
    limit: float | None = None,
    log: bool = False,
) -> list[str]:
    points = [p for run in runs for p in run.points]
    users = [p.users for p in points] or [1]
    lo, hi = math.log2(min(users)), math.log2(max(users))
    if hi - lo < 1:
        lo, hi = lo - 0.5, hi + 0.5
    values = [max(getattr(p, value), 1.0) for p in points] + ([limit] if limit else []) or [1.0]
    if log:  # latency spans decades once a step fails: a log axis keeps the passing ones legible
        bottom = max(t for t in LOG_TICKS if t <= min(values))
        top = min((t for t in LOG_TICKS if t >= max(values) * 1.05), default=LOG_TICKS[-1])
        ticks = [t for t in LOG_TICKS if bottom <= t <= top]
    else:
        step = _nice_step(max(values))
        bottom, top = 0.0, step * math.ceil(max(values) * 1.05 / step)
        ticks = [step * i for i in range(round(top / step) + 1)]

    def x(u: float) -> float:
        return left + (math.log2(u) - lo) / (hi - lo) * PANEL_W

    def y(v: float) -> float:
        if log:
            span = math.log10(top) - math.log10(bottom)
            share = (math.log10(min(max(v, bottom), top)) - math.log10(bottom)) / span
        else:
            share = v / top
        return MARGIN_TOP + PANEL_H - share * PANEL_H

    middle_y = MARGIN_TOP + PANEL_H / 2
    axis = f"{unit}, log scale" if log else unit
    out = [
        f'<text x="{left + PANEL_W / 2:.0f}" y="{MARGIN_TOP - 14}" text-anchor="middle" '
        f'font-weight="bold">{escape(title)}</text>',
        f'<rect x="{left}" y="{MARGIN_TOP}" width="{PANEL_W}" height="{PANEL_H}" '
        'fill="none" stroke="#888"/>',
        f'<text x="{left + PANEL_W / 2:.0f}" y="{MARGIN_TOP + PANEL_H + 34}" '
        'text-anchor="middle">users (log scale)</text>',
        f'<text x="{left - 48}" y="{middle_y:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 {left - 48} {middle_y:.0f})">{escape(axis)}</text>',
    ]
    for tick in ticks:
        out.append(
            f'<line x1="{left}" x2="{left + PANEL_W}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#ddd"/>'
        )
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for u in sorted(set(users)):
        out.append(
            f'<text x="{x(u):.1f}" y="{MARGIN_TOP + PANEL_H + 16}" text-anchor="middle">{u}</text>'
        )
    if limit is not None:
        out.append(
            f'<line x1="{left}" x2="{left + PANEL_W}" y1="{y(limit):.1f}" y2="{y(limit):.1f}" '
            'stroke="#555" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{left + PANEL_W - 4}" y="{y(limit) - 5:.1f}" text-anchor="end" '
            f'fill="#555">limit {limit:g} {escape(unit)}</text>'
        )
    for index, run in enumerate(runs):
        colour = COLOURS[index % len(COLOURS)]
        ordered = sorted(run.points, key=lambda p: p.users)
        path = " ".join(f"{x(p.users):.1f},{y(getattr(p, value)):.1f}" for p in ordered)
        out.append(
            f'<polyline class="run" data-run="{index}" points="{path}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        for p in ordered:  # a filled dot passed, a hollow one failed
            fill = colour if p.passed else "white"
            out.append(
                f'<circle cx="{x(p.users):.1f}" cy="{y(getattr(p, value)):.1f}" r="3.5" '
                f'fill="{fill}" stroke="{colour}" stroke-width="1.5"/>'
            )
    return out


def render_svg(runs: list[Run], *, p95_limit: float) -> str:
    """Two panels, req/s and p95 against users, one line per run (newest last)."""
    body = _panel(runs, left=MARGIN_LEFT, title="Sustained rate", value="rps", unit="req/s")
    body += _panel(runs, left=MARGIN_LEFT + PANEL_W + GAP, title="Aggregated p95",
                   value="p95_ms", unit="ms", limit=p95_limit, log=True)  # fmt: skip
    legend_y = MARGIN_TOP + PANEL_H + 56
    for index, run in enumerate(runs):
        colour = COLOURS[index % len(COLOURS)]
        row_y = legend_y + 16 * index
        body.append(
            f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + 24}" y1="{row_y - 4}" y2="{row_y - 4}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        body.append(f'<text x="{MARGIN_LEFT + 30}" y="{row_y}">{escape(run.label)}</text>')
    note_y = legend_y + 16 * len(runs)
    body.append(
        f'<text x="{MARGIN_LEFT}" y="{note_y}" fill="#555">'
        "A filled dot is a step that passed, a hollow one a step that failed.</text>"
    )
    height = max(HEIGHT, note_y + 10)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
            f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
            *body,
            "</svg>",
            "",
        ]
    )
