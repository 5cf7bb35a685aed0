"""Validates Kubernetes objects offline; run with the tool venv's python
(kubernetes-validate and jsonschema live there, apart from the project venv).

  .tools/venv/bin/python tests/deploy/validate_objects.py KUBE_VERSION FILE...

Built-in kinds against the Kubernetes JSON schemas of KUBE_VERSION (strict:
unknown fields are errors); custom resources against crd_schemas.py. Prints
one line per problem and exits 1 if there is any."""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crd_schemas import SCHEMAS


def main(version: str, files: list[str]) -> int:
    problems = []
    count = 0
    for file in files:
        for doc in yaml.safe_load_all(Path(file).read_text()):
            if not doc:
                continue
            count += 1
            where = f"{file}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
            if (
                "." in group and not group.endswith(".k8s.io")
            ) or group == "gateway.networking.k8s.io":
                schema = SCHEMAS.get((group, doc["kind"]))
                if schema is None:
                    problems.append(f"{where}: no schema for {doc['apiVersion']} {doc['kind']}")
                    continue
                for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
                    problems.append(
                        f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
                    )
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(f"{where}: {'/'.join(map(str, error.path))}: {error.message}")
            except Exception as error:
                problems.append(f"{where}: {type(error).__name__}: {error}")
    for problem in problems:
        print(problem)
    print(f"validated {count} objects, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
