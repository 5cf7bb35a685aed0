"""Plain manifests for `kubectl apply` users, rendered from the chart:
deploy/k8s/sandbox/<component>.yaml, one file per component (its workload,
Service, ServiceAccount, policies, monitors), plus shared.yaml.

  python deploy/scripts/render_manifests.py --write   # regenerate
  python deploy/scripts/render_manifests.py --check   # exit 1 if out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox_chart import MANIFESTS, ROOT, render

HEADER = (
    "# Rendered from deploy/helm/sandbox with ci/manifests-values.yaml by `make manifests`;\n"
    "# do not edit. Create the Secrets first: deploy/scripts/create-secrets.sh\n"
)


def split() -> dict[str, str]:
    files: dict[str, list[dict]] = {}
    for doc in render("manifests"):
        component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") or "shared"
        files.setdefault(component, []).append(doc)
    return {
        f"{name}.yaml": HEADER
        + "".join("---\n" + yaml.safe_dump(doc, sort_keys=False) for doc in docs)
        for name, docs in sorted(files.items())
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    wanted = split()
    present = (
        {p.name: p.read_text() for p in MANIFESTS.glob("*.yaml")} if MANIFESTS.is_dir() else {}
    )
    if args.check:
        stale = sorted(n for n in set(wanted) | set(present) if wanted.get(n) != present.get(n))
        if stale:
            print("deploy/k8s/sandbox is out of date (run make manifests): " + ", ".join(stale))
            return 1
        return 0
    MANIFESTS.mkdir(parents=True, exist_ok=True)
    for name in set(present) - set(wanted):
        (MANIFESTS / name).unlink()
    for name, text in wanted.items():
        (MANIFESTS / name).write_text(text)
    print(f"wrote {len(wanted)} files to {MANIFESTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
