"""The bench's chart: rate and p95 against users, one line per kept run."""

from __future__ import annotations

import importlib
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "loadtests" / "bench"
sys.path.insert(0, str(BENCH))
chart = importlib.import_module("chart")

SVG = "{http://www.w3.org/2000/svg}"


def run(label: str, scale: float) -> object:
    return chart.Run(label, tuple(
        chart.Point(users, rps * scale, p95, p95 < 100)
        for users, rps, p95 in ((20, 6.0, 20.0), (80, 22.0, 25.0), (320, 75.0, 40.0),
                                (640, 110.0, 2400.0), (480, 99.0, 330.0))
    ))  # fmt: skip


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def polylines(svg: str) -> list[list[tuple[float, float]]]:
    root = parse(svg)
    return [
        [tuple(float(v) for v in pair.split(",")) for pair in line.get("points", "").split()]
        for line in root.iter(f"{SVG}polyline")
    ]


def test_one_line_per_run_in_each_panel_in_order_of_users() -> None:
    svg = chart.render_svg([run("first", 1.0), run("second", 2.0)], p95_limit=100)
    lines = polylines(svg)
    assert len(lines) == 4  # two runs, two panels
    for line in lines:
        xs = [x for x, _ in line]
        assert xs == sorted(xs), "points are drawn in order of users"
        assert len(line) == 5
    rate_first, rate_second = lines[0], lines[1]
    # SVG's y grows downwards: twice the rate is drawn higher at every step.
    assert all(b[1] < a[1] for a, b in zip(rate_first, rate_second, strict=True))
    text = "".join(parse(svg).itertext())
    assert "first" in text
    assert "second" in text
    assert "limit 100 ms" in text


def test_failed_steps_are_hollow() -> None:
    root = parse(chart.render_svg([run("only", 1.0)], p95_limit=100))
    fills = [circle.get("fill") for circle in root.iter(f"{SVG}circle")]
    assert fills.count("white") == 2 * 2  # 640 and 480 users failed, in both panels
    assert len(fills) == 2 * 5


def test_the_history_keeps_the_newest_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.json"
    runs: list[object] = []
    for i in range(chart.KEEP_RUNS + 2):
        runs = chart.with_run(chart.load_history(path), run(f"run {i}", 1.0 + i))
        chart.save_history(path, runs)
    kept = chart.load_history(path)
    assert [r.label for r in kept] == [f"run {i}" for i in range(2, chart.KEEP_RUNS + 2)]
    assert kept[-1] == run(f"run {chart.KEEP_RUNS + 1}", float(chart.KEEP_RUNS + 2))


def test_the_committed_history_draws() -> None:
    history = Path(__file__).resolve().parents[2] / "docs" / "performance-runs.json"
    runs = chart.load_history(history)
    assert runs
    assert len(polylines(chart.render_svg(runs, p95_limit=100))) == 2 * len(runs)
