"""The Elasticsearch index template, ingest pipeline and ILM policy, the Kibana
saved objects, and the loader the cluster deploy calls."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from obs_support import ELASTIC

# ECS fields our log lines carry, and their mapped types.
REQUIRED_FIELDS = {
    "@timestamp": "date",
    "log.level": "keyword",
    "log.logger": "keyword",
    "logger": "keyword",
    "message": "text",
    "service.name": "keyword",
    "http.request.method": "keyword",
    "url.path": "keyword",
    "http.response.status_code": "long",
    "event.duration": "long",
    "request_id": "keyword",
    "trace.id": "keyword",
    "error.stack_trace": "text",
    "kubernetes.pod_name": "keyword",
    "kubernetes.namespace_name": "keyword",
    "kubernetes.container_name": "keyword",
    "kubernetes.labels": "flattened",
}


def load(name: str) -> dict[str, Any]:
    return json.loads((ELASTIC / name).read_text())


def _walk(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            yield from _walk(spec["properties"], f"{path}.")
        else:
            yield path, spec["type"]


def mapped_types() -> dict[str, str]:
    return dict(_walk(load("index-template.json")["template"]["mappings"]["properties"]))


def mapped_fields() -> set[str]:
    return set(mapped_types())


def saved_objects() -> list[dict[str, Any]]:
    lines = (ELASTIC / "kibana-saved-objects.ndjson").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_index_template_matches_the_log_indices_and_maps_our_fields() -> None:
    template = load("index-template.json")
    assert template["index_patterns"] == ["sandbox-logs*"]
    assert template["priority"] > 100  # above the built-in logs-*-* templates
    settings = template["template"]["settings"]
    assert settings["index.default_pipeline"] == "sandbox-logs"
    assert settings["index.lifecycle.name"] == "sandbox-logs"
    types = mapped_types()
    wrong = {f: (t, types.get(f)) for f, t in REQUIRED_FIELDS.items() if types.get(f) != t}
    assert not wrong, f"field: (expected, mapped): {wrong}"


def test_ingest_pipeline_renames_flattened_names_to_mapped_fields() -> None:
    pipeline = load("ingest-pipeline.json")
    fields = mapped_fields()
    targets = {p["rename"]["field"]: p["rename"]["target_field"] for p in pipeline["processors"]}
    assert targets["log_level"] == "log.level"
    assert targets["service_name"] == "service.name"
    for source, target in targets.items():
        assert target in fields, target
        assert source == target.replace(".", "_")


def test_ilm_policy_deletes_old_indices() -> None:
    phases = load("ilm-policy.json")["policy"]["phases"]
    assert "delete" in phases["delete"]["actions"]


def test_saved_objects_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ELASTIC / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_saved_objects_reference_the_data_view_and_mapped_fields() -> None:
    objects = saved_objects()
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects)
    views = [o for o in objects if o["type"] == "index-pattern"]
    assert [v["attributes"]["title"] for v in views] == ["sandbox-logs*"]
    assert views[0]["attributes"]["timeFieldName"] == "@timestamp"
    fields = mapped_fields()
    searches = [o for o in objects if o["type"] == "search"]
    filtered_services = set()
    for search in searches:
        for ref in search["references"]:
            assert (ref["type"], ref["id"]) in ids, f"{search['id']}: dangling {ref}"
        attributes = search["attributes"]
        assert set(attributes["columns"]) <= fields, set(attributes["columns"]) - fields
        assert {"request_id", "message", "url.path", "http.response.status_code"} <= set(
            attributes["columns"]
        )
        source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        ref_names = {r["name"] for r in search["references"]}
        assert source["indexRefName"] in ref_names
        for flt in source["filter"]:
            assert flt["meta"]["key"] in fields
            assert flt["meta"]["indexRefName"] in ref_names
            if flt["meta"]["key"] == "service.name":
                filtered_services.add(flt["meta"]["params"]["query"])
        kuery_fields = set(re.findall(r"([\w.@]+)\s*(?::|>=|<=|>|<)", source["query"]["query"]))
        assert kuery_fields <= fields, kuery_fields - fields
    assert {"user", "catalog", "activity", "worker"} <= filtered_services


class _Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, dict[str, str], bytes]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.calls.append((self.command, self.path, headers, body))
        answer = b'{"acknowledged":true}'
        if self.path.startswith("/api/saved_objects/_import"):
            answer = b'{"success":true,"successCount":8}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[str]:
    _Recorder.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_loader_installs_elasticsearch_setup_then_imports_into_kibana(fake_server: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ELASTIC / "load.py"),
            "--es-url",
            fake_server,
            "--kibana-url",
            fake_server,
            "--timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    writes = [(method, path) for method, path, _, _ in _Recorder.calls if method != "GET"]
    assert writes == [
        ("PUT", "/_ilm/policy/sandbox-logs"),
        ("PUT", "/_ingest/pipeline/sandbox-logs"),
        ("PUT", "/_index_template/sandbox-logs"),
        ("POST", "/api/saved_objects/_import?overwrite=true"),
    ]
    _, _, headers, body = _Recorder.calls[-1]
    assert headers.get("kbn-xsrf")
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    assert (ELASTIC / "kibana-saved-objects.ndjson").read_bytes() in body
    template_body = next(
        b for m, p, _, b in _Recorder.calls if p == "/_index_template/sandbox-logs"
    )
    assert json.loads(template_body) == load("index-template.json")
