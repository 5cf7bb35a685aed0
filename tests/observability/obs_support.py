"""What the observability tests share: where the files are, how panels are
walked, and a little PromQL handling (metric names, variable substitution,
the measurement inside an alert condition)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "observability"
DASHBOARDS = OBS / "grafana" / "dashboards"
PROVISIONING = OBS / "grafana" / "provisioning"
RULES = OBS / "prometheus" / "rules"
RULE_TESTS = OBS / "prometheus" / "tests"
ELASTIC = OBS / "elastic"
METRICS_DOC = ROOT / "docs" / "metrics.md"

# The first line of a panel description that limits where it has data; written
# by observability/grafana/dashboards_src/lib/panels.py (SCOPE_PREFIXES).
SCOPES = {"Cluster only: ": "cluster", "Locust run only: ": "locust"}

PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds"}
LOCUST = {
    "locust_users",
    "locust_requests_total",
    "locust_failures_total",
    "locust_response_time_seconds_bucket",
    "locust_response_time_seconds_sum",
    "locust_response_time_seconds_count",
}
# Names as the exporters the Helm chart deploys publish them.
EXPORTERS = {
    # prometheus-community/postgres_exporter
    "pg_up",
    "pg_stat_database_numbackends",
    "pg_settings_max_connections",
    "pg_stat_database_xact_commit",
    "pg_stat_database_xact_rollback",
    "pg_stat_database_blks_hit",
    "pg_stat_database_blks_read",
    "pg_stat_database_deadlocks",
    "pg_database_size_bytes",
    # percona/mongodb_exporter
    "mongodb_up",
    "mongodb_collstats_storageStats_count",
    "mongodb_dbstats_dataSize",
    "mongodb_dbstats_indexSize",
    # oliver006/redis_exporter
    "redis_up",
    "redis_memory_used_bytes",
    "redis_memory_max_bytes",
    "redis_commands_processed_total",
    "redis_connected_clients",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "redis_db_keys",
    "redis_evicted_keys_total",
}

GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__range_s", "__interval_ms"}
# What the live test puts in place of Grafana's own variables: 1m covers four
# scrapes at the local 5 s interval; 1h spans every local run.
BUILTIN_VALUES = {
    "__rate_interval": "1m",
    "__interval_ms": "15000",
    "__interval": "15s",
    "__range_s": "3600",
    "__range": "1h",
}


def require_tool(name: str) -> str:
    """The tool's path; skip without it unless SANDBOX_REQUIRE_TOOLS is set."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("SANDBOX_REQUIRE_TOOLS"):
        pytest.fail(
            f"{name} is required (SANDBOX_REQUIRE_TOOLS is set): apt-get install prometheus"
        )
    pytest.skip(f"{name} not installed (apt-get install prometheus)")


# --- dashboards ---------------------------------------------------------------------------


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep theirs inside


def scope_of(panel: dict[str, Any]) -> tuple[str | None, str]:
    """(scope, reason) from the description's first line, (None, "") when unscoped."""
    first_line = (panel.get("description") or "").split("\n", 1)[0]
    for prefix, scope in SCOPES.items():
        if first_line.startswith(prefix):
            return scope, first_line[len(prefix) :].strip()
    return None, ""


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel_id: int
    title: str
    ref_id: str
    expr: str
    scope: str | None
    reason: str

    @property
    def label(self) -> str:
        return f"{self.dashboard} #{self.panel_id} {self.title!r} [{self.ref_id}]"


def panel_queries() -> list[PanelQuery]:
    queries = []
    for name, dashboard in load_dashboards().items():
        for panel in all_panels(dashboard):
            scope, reason = scope_of(panel)
            for target in panel.get("targets", []):
                if "expr" in target:
                    queries.append(
                        PanelQuery(
                            name,
                            panel["id"],
                            panel.get("title", ""),
                            target.get("refId", "?"),
                            target["expr"],
                            scope,
                            reason,
                        )
                    )
    return queries


def dashboard_queries(namespace: str, with_locust: bool) -> tuple[dict[str, str], list[str]]:
    """Every panel's PromQL with its variables set for `namespace` (label ->
    expression), and the Locust-only ones left out with their reason when no
    Locust exporter is scraped (their other queries stay in)."""
    dashboards = load_dashboards()
    queries, skipped = {}, []
    for query in panel_queries():
        if query.scope == "locust" and not with_locust and metric_names(query.expr) & LOCUST:
            skipped.append(f"{query.label}: {query.reason}")
            continue
        values = variable_values(dashboards[query.dashboard], namespace)
        queries[query.label] = substitute(query.expr, values)
    return queries, skipped


def variable_values(dashboard: dict[str, Any], namespace: str) -> dict[str, str]:
    """What each dashboard variable stands for when every option is selected."""
    values = {"namespace": namespace}
    for var in dashboard["templating"]["list"]:
        if var["type"] == "constant":
            values[var["name"]] = var["query"]
        elif var.get("includeAll") and var.get("allValue"):
            values[var["name"]] = var["allValue"]
    return values


def substitute(expr: str, values: dict[str, str]) -> str:
    merged = {**BUILTIN_VALUES, **values}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in merged:
            raise KeyError(f"unknown variable ${name} in {expr}")
        return merged[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", replace, expr)


# --- PromQL -------------------------------------------------------------------------------

_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def _blank_strings(expr: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions and keywords excluded)."""
    text = _blank_strings(expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, is_call = match.group(1), match.group(2)
        if is_call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def documented_metrics() -> set[str]:
    """sandbox_* names of docs/metrics.md, histograms expanded to their series."""
    names = set()
    for line in METRICS_DOC.read_text().splitlines():
        match = re.match(r"\|\s*`(sandbox_\w+)`\s*\|\s*(\w+)", line)
        if not match:
            continue
        name, kind = match.groups()
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    return names


def load_rule_files() -> list[dict[str, Any]]:
    rules = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                rules.append({**rule, "file": path.name, "group": group["name"]})
    return rules


def recorded_names() -> set[str]:
    return {rule["record"] for rule in load_rule_files() if "record" in rule}


def known_metrics() -> set[str]:
    return documented_metrics() | recorded_names() | PROMETHEUS_OWN | LOCUST | EXPORTERS


def _top_level(expr: str) -> Iterator[tuple[int, str]]:
    """(index, char) of the characters outside any (), {}, [] or string."""
    depth = 0
    in_string = False
    escaped = False
    for index, char in enumerate(expr):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        elif depth == 0:
            yield index, char


def _strip_parens(expr: str) -> str:
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for index, char in enumerate(expr):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and index < len(expr) - 1:
                return expr  # the first "(" closes before the end: not one group
        expr = expr[1:-1].strip()
    return expr


MATCHING = re.compile(r"^\s*(?:(?:on|ignoring|group_left|group_right)\s*(?:\([^)]*\))?\s*)+")


def measurements(expr: str) -> list[str]:
    """The measurements inside an alert condition, each of which must return series.

    An alert is `<measurement> <op> <threshold>`, possibly joined by and / or /
    unless: split on those at the top level, then keep the left side of each
    comparison (==, !=, >, <, >=, <=), and look inside absent(). A healthy
    system makes the condition empty but its measurements must not be.
    """
    expr = _strip_parens(expr)
    top = dict(_top_level(expr))
    text = "".join(top.get(i, " ") for i in range(len(expr)))
    for word in ("or", "unless", "and"):
        parts = [m.start() for m in re.finditer(rf"(?<![\w]){word}(?![\w])", text)]
        if parts:
            pieces, start = [], 0
            for position in parts:
                pieces.append(expr[start:position])
                start = position + len(word)
            pieces.append(expr[start:])
            # A right-hand side may begin with its vector matching: `unless on (namespace) x`.
            pieces = [re.sub(MATCHING, "", piece) for piece in pieces]
            return [inner for piece in pieces for inner in measurements(piece)]
    comparison = re.search(r"==|!=|>=|<=|>|<", text)
    if comparison:
        return measurements(expr[: comparison.start()])
    absent = re.fullmatch(r"absent(?:_over_time)?\s*\((.*)\)", expr, re.DOTALL)
    if absent:
        return measurements(re.sub(r"\[[^\]]*\]\s*$", "", absent.group(1)))
    # label_replace(v, "dst", "replacement", "src", "regex") only relabels v.
    relabelled = re.fullmatch(
        r"label_replace\s*\((.*),(\s*\"[^\"]*\"\s*,?){4}\s*\)", expr, re.DOTALL
    )
    if relabelled:
        return measurements(relabelled.group(1))
    return [expr]
