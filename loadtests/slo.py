"""The SLO gate: thresholds per request group, checked when a run ends.

Thresholds live in ``slo.yaml``. A group is ``"<METHOD> <name>"`` as Locust
reports it (``"GET /api/v1/products/{product_id}"``), or ``Aggregated`` for the
whole run. Every group that ran is held to ``defaults``; a listed group gets
its own limits and must have run at least ``min_requests`` times (1 unless set),
so a renamed request cannot slip past the gate unnoticed. A profile
(``profiles.<name>``) overrides parts of the file for one kind of run, such as
the short smoke run whose throughput is naturally low.

This module is pure: it reads numbers, never a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

AGGREGATED = "Aggregated"
LIMIT_KEYS = ("p95_ms", "max_error_ratio", "min_rps", "min_requests")


@dataclass(frozen=True)
class Limits:
    """Limits of one group; ``None`` means not checked."""

    p95_ms: float | None = None
    max_error_ratio: float | None = None
    min_rps: float | None = None
    min_requests: int | None = None

    def merged(self, override: Mapping[str, Any]) -> Limits:
        unknown = set(override) - set(LIMIT_KEYS)
        if unknown:
            raise ValueError(f"unknown SLO key(s): {', '.join(sorted(unknown))}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(override)
        return Limits(**values)


@dataclass(frozen=True)
class Slo:
    defaults: Limits
    groups: dict[str, Limits]
    # Percentiles of a handful of samples say nothing; below this many requests
    # a group's latency is reported but not gated. Errors are always gated.
    min_samples_for_latency: int = 20

    def limits_for(self, group: str) -> Limits:
        return self.groups.get(group, self.defaults)


@dataclass(frozen=True)
class GroupResult:
    group: str
    requests: int
    failures: int
    p95_ms: float
    rps: float

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Violation:
    group: str
    check: str
    actual: float
    limit: float
    detail: str = field(default="")

    def __str__(self) -> str:
        return f"{self.group}: {self.detail}"


def parse_slo(document: Mapping[str, Any], profile: str | None = None) -> Slo:
    """Build the thresholds of one profile from the parsed file.

    Precedence, lowest first: ``defaults``, the group's own entry, the
    profile's ``defaults`` (applied to every group, listed or not), the
    profile's entry for the group.
    """
    profiles = document.get("profiles") or {}
    override: Mapping[str, Any] = {}
    if profile and profile != "default":
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ValueError(f"unknown SLO profile {profile!r} (known: {known})")
        override = profiles[profile] or {}
    base_defaults = Limits().merged(document.get("defaults") or {})
    profile_defaults = override.get("defaults") or {}
    base_groups = document.get("groups") or {}
    profile_groups = override.get("groups") or {}
    groups = {
        name: base_defaults.merged(base_groups.get(name) or {})
        .merged(profile_defaults)
        .merged(profile_groups.get(name) or {})
        for name in [*base_groups, *(g for g in profile_groups if g not in base_groups)]
    }
    min_samples = int(
        override.get("min_samples_for_latency", document.get("min_samples_for_latency", 20))
    )
    return Slo(
        defaults=base_defaults.merged(profile_defaults),
        groups=groups,
        min_samples_for_latency=min_samples,
    )


def profiles(path: Path) -> set[str]:
    """The names of the file's profiles."""
    document = yaml.safe_load(path.read_text()) or {}
    return set(document.get("profiles") or {})


def load_slo(path: Path, profile: str | None = None) -> Slo:
    with path.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    return parse_slo(document, profile)


def _percent_over(actual: float, limit: float) -> str:
    if limit == 0:
        return ""
    return f", {abs(actual - limit) / limit:.0%} {'over' if actual > limit else 'under'}"


def evaluate(slo: Slo, results: Iterable[GroupResult]) -> list[Violation]:
    """Every limit a group missed, with how far it missed."""
    by_group = {result.group: result for result in results}
    violations: list[Violation] = []
    for group, limits in slo.groups.items():
        required = 1 if limits.min_requests is None else limits.min_requests
        seen = by_group[group].requests if group in by_group else 0
        if seen < required:
            violations.append(
                Violation(
                    group,
                    "min_requests",
                    seen,
                    required,
                    f"{seen} requests, at least {required} expected (renamed or never reached?)",
                )
            )
    for group, result in sorted(by_group.items()):
        if result.requests == 0:
            continue
        limits = slo.limits_for(group)
        if (
            limits.p95_ms is not None
            and result.requests >= slo.min_samples_for_latency
            and result.p95_ms > limits.p95_ms
        ):
            violations.append(
                Violation(
                    group,
                    "p95_ms",
                    result.p95_ms,
                    limits.p95_ms,
                    f"p95 {result.p95_ms:.0f} ms > {limits.p95_ms:.0f} ms "
                    f"(+{result.p95_ms - limits.p95_ms:.0f} ms"
                    f"{_percent_over(result.p95_ms, limits.p95_ms)})",
                )
            )
        if limits.max_error_ratio is not None and result.error_ratio > limits.max_error_ratio:
            violations.append(
                Violation(
                    group,
                    "max_error_ratio",
                    result.error_ratio,
                    limits.max_error_ratio,
                    f"error ratio {result.error_ratio:.2%} > {limits.max_error_ratio:.2%} "
                    f"({result.failures} of {result.requests} failed, "
                    f"+{result.error_ratio - limits.max_error_ratio:.2%})",
                )
            )
        if limits.min_rps is not None and result.rps < limits.min_rps:
            violations.append(
                Violation(
                    group,
                    "min_rps",
                    result.rps,
                    limits.min_rps,
                    f"throughput {result.rps:.2f} req/s < {limits.min_rps:.2f} req/s "
                    f"(-{limits.min_rps - result.rps:.2f} req/s"
                    f"{_percent_over(result.rps, limits.min_rps)})",
                )
            )
    return violations


def results_from_stats(stats: Any) -> list[GroupResult]:
    """Read Locust's ``RequestStats`` (duck-typed, so the gate stays testable without Locust)."""
    results = [
        GroupResult(
            group=f"{entry.method} {entry.name}",
            requests=entry.num_requests,
            failures=entry.num_failures,
            p95_ms=float(entry.get_response_time_percentile(0.95) or 0),
            rps=float(entry.total_rps),
        )
        for entry in stats.entries.values()
    ]
    total = stats.total
    results.append(
        GroupResult(
            group=AGGREGATED,
            requests=total.num_requests,
            failures=total.num_failures,
            p95_ms=float(total.get_response_time_percentile(0.95) or 0),
            rps=float(total.total_rps),
        )
    )
    return results


def render_report(slo: Slo, results: Iterable[GroupResult], violations: list[Violation]) -> str:
    """A table of every group against its limits, then the verdict."""
    missed = {v.group for v in violations}
    results = list(results)
    seen = {result.group for result in results}
    # Listed groups that never ran are shown too: silence is not a pass.
    results += [GroupResult(group, 0, 0, 0.0, 0.0) for group in slo.groups if group not in seen]
    lines = [
        f"{'SLO gate':<55} {'reqs':>7} {'fail%':>7} {'p95 ms':>8} {'req/s':>8}  limits",
    ]
    for result in sorted(results, key=lambda r: (r.group == AGGREGATED, r.group)):
        limits = slo.limits_for(result.group)
        shown = ", ".join(
            f"{key}={getattr(limits, key):g}"
            for key in ("p95_ms", "max_error_ratio", "min_rps")
            if getattr(limits, key) is not None
        )
        if limits.p95_ms is not None and 0 < result.requests < slo.min_samples_for_latency:
            shown += f" (p95 ungated: n<{slo.min_samples_for_latency})"
        mark = "MISS" if result.group in missed else "ok"
        lines.append(
            f"{mark:<4} {result.group:<50} {result.requests:>7} {result.error_ratio:>7.2%} "
            f"{result.p95_ms:>8.0f} {result.rps:>8.2f}  {shown}"
        )
    if violations:
        lines.append(f"SLO gate FAILED: {len(violations)} miss(es)")
        lines.extend(f"  - {violation}" for violation in violations)
    else:
        lines.append("SLO gate passed")
    return "\n".join(lines)
