"""The sandbox's Grafana dashboards as Python: one module a dashboard, each
with a `build()` that returns a `lib.layout.Dashboard`.

- `lib/`: the builder library (panels, targets, thresholds, variables,
  layout, PromQL fragments, the SLO read from observability/slo.json).
- `sections.py`: rows of panels more than one dashboard shows.
- `overview.py`, `user.py`, …: one dashboard each; DASHBOARDS names the file
  each is written to.

Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from . import activity, catalog, celery, datastores, loadtest, overview, user
from .lib.layout import Dashboard

DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "overview.json": overview.build,
    "user.json": user.build,
    "catalog.json": catalog.build,
    "activity.json": activity.build,
    "celery.json": celery.build,
    "datastores.json": datastores.build,
    "loadtest.json": loadtest.build,
}


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {
        name: json.dumps(build().render(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }
