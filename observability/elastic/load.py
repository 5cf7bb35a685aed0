#!/usr/bin/env python3
"""Installs the sandbox's log setup: Elasticsearch first, then Kibana.

Elasticsearch: the ILM policy, the ingest pipeline and the composable index
template for sandbox-logs* (all named `sandbox-logs`). Kibana: the data view
and saved searches of kibana-saved-objects.ndjson, imported with overwrite.
Each step is idempotent, so the deploy can run it on every install.

    python3 observability/elastic/load.py --es-url URL --kibana-url URL

Waits up to --timeout seconds for each server to answer. Credentials, when
security is enabled, come from ELASTIC_USERNAME and ELASTIC_PASSWORD.
Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "sandbox-logs"


class LoadError(RuntimeError):
    pass


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    user, password = os.environ.get("ELASTIC_USERNAME"), os.environ.get("ELASTIC_PASSWORD")
    if user and password:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    headers.update(extra or {})
    return headers


def request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=_headers(headers))  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(url: str, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, _ = request("GET", url)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as error:
            last = str(error)
        time.sleep(3)
    raise LoadError(f"{what} at {url} not ready after {timeout:.0f}s ({last})")


def put_json(url: str, path: Path) -> None:
    body = path.read_bytes()
    json.loads(body)  # refuse to send a broken file
    status, answer = request("PUT", url, body, {"Content-Type": "application/json"})
    if status not in (200, 201):
        raise LoadError(f"PUT {url} -> HTTP {status}: {answer[:500]!r}")
    print(f"PUT {url}: ok")


def load_elasticsearch(es_url: str) -> None:
    put_json(f"{es_url}/_ilm/policy/{NAME}", HERE / "ilm-policy.json")
    put_json(f"{es_url}/_ingest/pipeline/{NAME}", HERE / "ingest-pipeline.json")
    put_json(f"{es_url}/_index_template/{NAME}", HERE / "index-template.json")


def multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/ndjson\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def load_kibana(kibana_url: str) -> None:
    path = HERE / "kibana-saved-objects.ndjson"
    content = path.read_bytes()
    body, content_type = multipart("file", path.name, content)
    url = f"{kibana_url}/api/saved_objects/_import?overwrite=true"
    status, answer = request(
        "POST", url, body, {"Content-Type": content_type, "kbn-xsrf": "sandbox"}
    )
    if status != 200:
        raise LoadError(f"POST {url} -> HTTP {status}: {answer[:500]!r}")
    result = json.loads(answer)
    if not result.get("success"):
        raise LoadError(f"Kibana refused some saved objects: {json.dumps(result.get('errors'))}")
    print(f"POST {url}: {result.get('successCount', 0)} saved objects imported")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--es-url", default=os.environ.get("ES_URL", "http://127.0.0.1:9200"))
    parser.add_argument(
        "--kibana-url", default=os.environ.get("KIBANA_URL", "http://127.0.0.1:5601")
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait per server")
    parser.add_argument("--skip-kibana", action="store_true", help="only set up Elasticsearch")
    args = parser.parse_args(argv)
    es_url, kibana_url = args.es_url.rstrip("/"), args.kibana_url.rstrip("/")
    try:
        wait_for(
            f"{es_url}/_cluster/health?wait_for_status=yellow&timeout=5s",
            "Elasticsearch",
            args.timeout,
        )
        load_elasticsearch(es_url)
        if not args.skip_kibana:
            wait_for(f"{kibana_url}/api/status", "Kibana", args.timeout)
            load_kibana(kibana_url)
    except LoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
