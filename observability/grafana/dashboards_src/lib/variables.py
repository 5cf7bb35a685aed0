"""The template variables: `namespace` on every dashboard, `service` (the
scrape job) as a query or, on a service's own dashboard, a hidden constant."""

from __future__ import annotations

from .promql import ALL_JOBS, NS
from .targets import PROMETHEUS, Json


def namespace_var() -> Json:
    query = f'label_values(up{{job=~"{ALL_JOBS}"}}, namespace)'
    return {
        "name": "namespace",
        "label": "Namespace",
        "description": 'Kubernetes namespace of the sandbox; "local" for make local-up.',
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": query,
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
        "hide": 0,
        "regex": "",
        "current": {},
        "options": [],
    }


def service_query_var(jobs: str, metric: str = "up") -> Json:
    query = f'label_values({metric}{{{NS}, job=~"{jobs}"}}, job)'
    return {
        "name": "service",
        "label": "Service",
        "description": "Scrape job: user, catalog, activity, worker or beat.",
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": query,
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": jobs,
        "hide": 0,
        "regex": "",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
    }


def service_constant(job: str) -> Json:
    return {
        "name": "service",
        "label": "Service",
        "description": "The scrape job this dashboard is about.",
        "type": "constant",
        "query": job,
        "hide": 2,
        "current": {"text": job, "value": job},
        "options": [{"selected": True, "text": job, "value": job}],
    }
