"""Chart values that run every datastore and exporter of the sandbox chart from
the bare cluster's stand-in images: reads the chart's datastores (and their
engines) from values.yaml and the image references from `images.sh list`, so
neither list is written down twice.

    python deploy/bare/standin_values.py "$(bash deploy/bare/images.sh list)" > values.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

CHART_VALUES = Path(__file__).resolve().parents[1] / "helm/sandbox/values.yaml"
# images.sh keys by engine: the server, and the exporter prometheus-community,
# oliver006 and percona name after it.
EXPORTERS = {
    "postgres": "POSTGRES_EXPORTER",
    "redis": "REDIS_EXPORTER",
    "mongo": "MONGODB_EXPORTER",
}


def standin_values(listing: str) -> dict[str, object]:
    images = dict(line.split("=", 1) for line in listing.split() if "=" in line)
    datastores = yaml.safe_load(CHART_VALUES.read_text())["datastores"]
    values = {}
    for name, datastore in datastores.items():
        engine = datastore["engine"]
        values[name] = {
            "image": images[engine.upper()],
            "exporter": {"image": images[EXPORTERS[engine]]},
        }
    return {"datastores": values}


if __name__ == "__main__":
    yaml.safe_dump(standin_values(sys.argv[1]), sys.stdout, sort_keys=True)
