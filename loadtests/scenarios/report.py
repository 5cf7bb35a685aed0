"""The scenario report: Markdown for people, JSON of the key facts for tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from evidence import AlertSeen, LogSummary, Loss, PanelReading, Phases, RouteSeen, utc
from library import Scenario


@dataclass
class Findings:
    scenario: Scenario
    target: str
    fault: str
    phases: Phases
    alerts: list[AlertSeen]
    panels: list[PanelReading]
    logs: LogSummary
    routes: list[RouteSeen]
    failures: list[tuple[str, str, int]]
    gate: dict[str, Any]
    loss: Loss | None
    notes: list[str] = field(default_factory=list)

    def facts(self) -> dict[str, Any]:
        """What the tests check."""
        fired = sorted({a.name for a in self.alerts if a.state == "firing"})
        return {
            "scenario": self.scenario.name,
            "expected_alerts": list(self.scenario.alerts),
            "firing": fired,
            "pending": sorted({a.name for a in self.alerts if a.state == "pending"}),
            "panels_moved": {
                f"{p.panel.dashboard}/{p.panel.title}": p.moved() for p in self.panels
            },
            "accepted": self.loss.accepted if self.loss else None,
            "stored": self.loss.stored if self.loss else None,
            "lost": self.loss.lost if self.loss else None,
            "gate_passed": self.gate.get("passed"),
            "log_lines": sum(self.logs.counts.values()),
            "phases": asdict(self.phases),
        }


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}"


def _offset(ts: float, phases: Phases) -> str:
    return f"{utc(ts)} ({ts - phases.injected:+.0f} s)"


def render(f: Findings) -> str:
    p = f.phases
    lines = [
        f"# Scenario `{f.scenario.name}` ({f.target})",
        "",
        f"{f.scenario.summary[0].upper()}{f.scenario.summary[1:]}.",
        "",
        f"- Fault: {f.fault}.",
        f"- Load steady from {utc(p.start)}; fault injected {utc(p.injected)}, removed "
        f"{utc(p.removed)} (held {p.removed - p.injected:.0f} s); "
        f"watched until {utc(p.end)} (UTC).",
        "",
        "## Alerts",
        "",
    ]
    if f.alerts:
        lines += ["| alert | state | about | first seen | last seen |", "|---|---|---|---|---|"]
        lines += [
            f"| {a.name} | {a.state} | {a.about or '-'} | {_offset(a.first, p)} | "
            f"{_offset(a.last, p)} |"
            for a in f.alerts
        ]
    else:
        lines.append("No alert was pending or firing.")
    expected = set(f.scenario.alerts)
    if expected:
        fired = {a.name for a in f.alerts if a.state == "firing"}
        pending = {a.name for a in f.alerts if a.state == "pending"}
        for name in sorted(expected):
            state = (
                "fired" if name in fired else "went pending" if name in pending else "stayed quiet"
            )
            lines.append(f"\nExpected `{name}`: {state}.")
    lines += [
        "",
        "## What the dashboards showed",
        "",
        "Mean of each panel's query before, during and after the fault.",
        "",
    ]
    for reading in f.panels:
        verdict = "moved" if reading.moved() else "did not move"
        lines += [
            f"### {reading.panel.dashboard} / {reading.panel.title} "
            f"(expected {reading.panel.moves}: {verdict})",
            "",
            f"`{reading.expr}`",
            "",
            "| series | before | during | after |",
            "|---|---|---|---|",
        ]
        for label, (before, during, after) in sorted(reading.series.items())[:8]:
            lines.append(f"| {label} | {_num(before)} | {_num(during)} | {_num(after)} |")
        if not reading.series:
            lines.append("| (no series) | | | |")
        lines.append("")
    lines += ["## What the logs said", "", "From the fault to the end of the run.", ""]
    if f.logs.counts:
        lines += ["| service | level | lines |", "|---|---|---|"]
        lines += [
            f"| {service} | {level} | {n} |"
            for (service, level), n in sorted(f.logs.counts.items())
        ]
    else:
        lines.append("No log line in that window.")
    if f.logs.example:
        lines += ["", "The first warning or error:", "", "```json", f.logs.example, "```"]
    if f.logs.request_id:
        lines += [
            "",
            f"One affected request to follow: `request_id` **{f.logs.request_id}** "
            "(search for it in Kibana, or `grep` it in `.local/logs/`).",
        ]
    lines += ["", "## What users saw", ""]
    lines += ["| request | sent | failed | p95 ms |", "|---|---|---|---|"]
    lines += [
        f"| {r.method} {r.name} | {r.requests} | {r.failures} | {r.p95_ms:.0f} |"
        for r in sorted(f.routes, key=lambda r: (-r.failures, r.name))
    ]
    if f.failures:
        lines += ["", "Most frequent failures:", ""]
        lines += [f"- {where}: {error} (x{n})" for where, error, n in f.failures]
    passed = f.gate.get("passed")
    lines += [
        "",
        "SLO gate: "
        + ("passed" if passed else "failed" if passed is False else "no verdict")
        + "".join(
            f"; {v['group']}: {v.get('detail', v['check'])}"
            for v in f.gate.get("violations", [])[:6]
        ),
        "",
        "## What was lost",
        "",
    ]
    if f.loss is None:
        lines.append("Not counted for this scenario.")
    else:
        lines.append(
            f"Events the load test had accepted (202): {f.loss.accepted}; stored: {f.loss.stored} "
            f"(counted after waiting {f.loss.waited:.0f} s for the worker); "
            + ("nothing lost." if f.loss.lost == 0 else f"**{f.loss.lost} lost**.")
        )
    for note in f.notes:
        lines += ["", f"Note: {note}"]
    lines.append("")
    return "\n".join(lines)
