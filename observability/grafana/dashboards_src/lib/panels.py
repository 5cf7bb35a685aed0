"""The panel types the dashboards use.

A panel whose data only exists in the cluster or during a Locust run starts
its description with a scope line, `Cluster only: <reason>` or
`Locust run only: <reason>` (SCOPE_PREFIXES). That first line is the
machine-readable marker the tests read; Grafana shows it to people as well.
"""

from __future__ import annotations

from .targets import ELASTICSEARCH, PROMETHEUS, Json, es_logs
from .thresholds import NEUTRAL

SCOPE_PREFIXES = {"cluster": "Cluster only: ", "locust": "Locust run only: "}


def _describe(description: str, scope: str | None, reason: str | None) -> str:
    if scope is None:
        return description
    if not reason:
        raise ValueError("a scoped panel needs the reason it is scoped")
    return f"{SCOPE_PREFIXES[scope]}{reason}\n\n{description}"


def timeseries(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str,
    thresholds: Json = NEUTRAL,
    show_thresholds: bool = False,
    stack: bool = False,
    minimum: float | None = 0,
    maximum: float | None = None,
    scope: str | None = None,
    reason: str | None = None,
    datasource: Json = PROMETHEUS,
) -> Json:
    """A graph over time; `scope` and `reason` mark where it has data (SCOPE_PREFIXES)."""
    defaults: Json = {
        "unit": unit,
        "thresholds": thresholds,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 20 if stack else 8,
            "gradientMode": "none",
            "showPoints": "never",
            "spanNulls": False,
            "axisPlacement": "auto",
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": "dashed" if show_thresholds else "off"},
        },
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return {
        "type": "timeseries",
        "title": title,
        "description": _describe(description, scope, reason),
        "datasource": datasource,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
                "calcs": [],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
    }


def stat(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str,
    thresholds: Json,
    mappings: list[Json] | None = None,
    decimals: int | None = None,
    scope: str | None = None,
    reason: str | None = None,
) -> Json:
    """One big number per series, coloured by `thresholds`."""
    defaults: Json = {
        "unit": unit,
        "thresholds": thresholds,
        "color": {"mode": "thresholds"},
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": _describe(description, scope, reason),
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
        "targets": targets,
    }


def bargauge(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str,
    thresholds: Json,
    scope: str | None = None,
    reason: str | None = None,
) -> Json:
    """Horizontal bars, one per series."""
    return {
        "type": "bargauge",
        "title": title,
        "description": _describe(description, scope, reason),
        "datasource": PROMETHEUS,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": thresholds,
                "color": {"mode": "thresholds"},
                "min": 0,
            },
            "overrides": [],
        },
        "options": {
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        "targets": targets,
    }


def table(title: str, description: str, targets: list[Json], *, hide: list[str]) -> Json:
    """A table of an instant query's labels; `hide` drops columns."""
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "fieldConfig": {
            "defaults": {"unit": "none", "thresholds": NEUTRAL, "custom": {"align": "auto"}},
            "overrides": [],
        },
        "options": {"showHeader": True, "cellHeight": "sm"},
        "transformations": [
            {"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}}
        ],
        "targets": targets,
    }


def logs(title: str, description: str, query: str, *, reason: str) -> Json:
    """Log lines from Elasticsearch (cluster only)."""
    return {
        "type": "logs",
        "title": title,
        "description": _describe(description, "cluster", reason),
        "datasource": ELASTICSEARCH,
        "options": {
            "showTime": True,
            "wrapLogMessage": True,
            "sortOrder": "Descending",
            "enableLogDetails": True,
            "dedupStrategy": "none",
            "prettifyLogMessage": False,
        },
        "targets": [es_logs(query)],
    }
