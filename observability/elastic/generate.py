#!/usr/bin/env python3
"""Writes observability/elastic/kibana-saved-objects.ndjson: the Kibana data view
for sandbox-logs* and one saved search per process.

Kibana stores a search's query and filters as a JSON string inside JSON;
generating them avoids hand-escaping. Run `make dashboards` after an edit;
`--check` exits 1 when the committed file differs. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "kibana-saved-objects.ndjson"

DATA_VIEW_ID = "sandbox-logs"
INDEX_PATTERN = "sandbox-logs*"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"

# The `service.name` each process writes into its log lines.
SERVICES = {
    "user": "User service",
    "catalog": "Catalog service",
    "activity": "Activity service",
    "worker": "Celery worker",
    "beat": "Celery beat",
}
COLUMNS = (
    "log.level",
    "request_id",
    "message",
    "http.request.method",
    "url.path",
    "http.response.status_code",
)


def data_view() -> dict[str, object]:
    return {
        "type": "index-pattern",
        "id": DATA_VIEW_ID,
        "attributes": {
            "title": INDEX_PATTERN,
            "name": "Sandbox logs",
            "timeFieldName": "@timestamp",
        },
        "references": [],
    }


def phrase_filter(field: str, value: str, ref_name: str) -> dict[str, object]:
    return {
        "meta": {
            "alias": None,
            "negate": False,
            "disabled": False,
            "type": "phrase",
            "key": field,
            "params": {"query": value},
            "indexRefName": ref_name,
        },
        "query": {"match_phrase": {field: value}},
        "$state": {"store": "appState"},
    }


def search(
    search_id: str,
    title: str,
    description: str,
    *,
    kuery: str = "",
    filters: tuple[tuple[str, str], ...] = (),
    columns: tuple[str, ...] = COLUMNS,
) -> dict[str, object]:
    references = [{"name": INDEX_REF, "type": "index-pattern", "id": DATA_VIEW_ID}]
    built_filters = []
    for index, (field, value) in enumerate(filters):
        ref_name = f"kibanaSavedObjectMeta.searchSourceJSON.filter[{index}].meta.index"
        built_filters.append(phrase_filter(field, value, ref_name))
        references.append({"name": ref_name, "type": "index-pattern", "id": DATA_VIEW_ID})
    source = {
        "query": {"query": kuery, "language": "kuery"},
        "filter": built_filters,
        "indexRefName": INDEX_REF,
    }
    return {
        "type": "search",
        "id": search_id,
        "attributes": {
            "title": title,
            "description": description,
            "columns": list(columns),
            "sort": [["@timestamp", "desc"]],
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps(source, separators=(",", ":"))
            },
        },
        "references": references,
    }


def saved_objects() -> list[dict[str, object]]:
    objects: list[dict[str, object]] = [data_view()]
    for name, label in SERVICES.items():
        objects.append(
            search(
                f"sandbox-logs-{name}",
                f"Sandbox logs: {name}",
                f"Every log line of the {label}, newest first. Click a request_id to "
                "filter on it and follow one request through every service.",
                filters=(("service.name", name),),
            )
        )
    objects.append(
        search(
            "sandbox-logs-errors",
            "Sandbox logs: errors",
            "Error and critical lines of every process, with the service that wrote them.",
            kuery='log.level:("error" or "critical")',
            columns=("service.name", *COLUMNS[1:], "error.type"),
        )
    )
    objects.append(
        search(
            "sandbox-logs-server-errors",
            "Sandbox logs: 5xx responses",
            "Requests answered with a 5xx, the lines the SLO counts against the error budget.",
            kuery="http.response.status_code >= 500",
            columns=("service.name", *COLUMNS[1:]),
        )
    )
    return objects


def render() -> str:
    return "".join(
        json.dumps(obj, separators=(",", ":"), sort_keys=True) + "\n" for obj in saved_objects()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"out of date: {OUT}\nrun: make dashboards", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
