"""The data sources, by their provisioned uids, and the queries a panel runs."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
ELASTICSEARCH = {"type": "elasticsearch", "uid": "elasticsearch"}


def prom(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    """A PromQL query, its white space folded; `Dashboard.add` sets its refId."""
    target: Json = {
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": " ".join(expr.split()),
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    if table:
        target["format"] = "table"
    return target


def es_logs(query: str) -> Json:
    """The log lines matching a Lucene query."""
    return {
        "datasource": ELASTICSEARCH,
        "query": query,
        "alias": "",
        "metrics": [{"id": "1", "type": "logs"}],
        "bucketAggs": [],
        "timeField": "@timestamp",
    }


def es_count_by(query: str, term: str) -> Json:
    """Log lines matching a Lucene query, counted per value of `term` over time."""
    return {
        "datasource": ELASTICSEARCH,
        "query": query,
        "alias": "",
        "metrics": [{"id": "1", "type": "count"}],
        "bucketAggs": [
            {
                "id": "3",
                "type": "terms",
                "field": term,
                "settings": {
                    "min_doc_count": "1",
                    "order": "desc",
                    "orderBy": "_count",
                    "size": "10",
                },
            },
            {
                "id": "2",
                "type": "date_histogram",
                "field": "@timestamp",
                "settings": {"interval": "auto"},
            },
        ],
        "timeField": "@timestamp",
    }
