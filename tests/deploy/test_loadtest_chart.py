"""Locust in the cluster (values `loadtest:`): off by default; when on, a
master and workers wired to each other, to the release's Services and to
Prometheus exactly as the load tests (loadtests/) expect. The general
invariants (restricted pods, probes, resources, selectors, URLs, images,
monitors, policies, checkov) cover the loadtest profile in test_chart.py
and test_checkov.py."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from typing import Any

import sandbox_chart
import yaml

from tests.deploy.conftest import CHART_PROFILES, ROOT, component
from tests.deploy.test_chart import (
    APP_COMPONENTS,
    EXPECTED_FLOWS,
    GATEWAY_NS,
    LOADTEST_PROFILES,
    LOCUST,
    LOCUST_OBJECTS,
    allowed_flows,
    by_kind,
)

CHART = sandbox_chart.CHART
LOADTESTS = ROOT / "loadtests"
LOCUST_PREFIX = [
    "locust",
    "-f",
    "/app/loadtests/locustfile.py",
    "--config",
    "/app/loadtests/locust.conf",
]


def locust_objects(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if component(d) in LOCUST_OBJECTS or "locust" in d["metadata"]["name"]]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in by_kind(docs, kind) if component(d) == name]
    return doc


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (c,) = doc["spec"]["template"]["spec"]["containers"]
    return c


def option(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


def render_loadtest(*extra: str) -> list[dict[str, Any]]:
    return sandbox_chart.render("loadtest", *extra)


def test_off_by_default(helm: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["loadtest"]["enabled"] is False
    for profile in CHART_PROFILES:
        found = locust_objects(rendered[profile])
        if profile in LOADTEST_PROFILES:
            assert found, profile
        else:
            assert not found, f"{profile}: {[d['metadata']['name'] for d in found]}"
    # the chart's own defaults, no scenario file
    result = subprocess.run(
        [helm, "template", "x", str(CHART), "--kube-version", sandbox_chart.KUBE_VERSION],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not locust_objects([d for d in yaml.safe_load_all(result.stdout) if d])


def test_master_and_workers(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["loadtest"]
    values = yaml.safe_load((CHART / "ci/loadtest-values.yaml").read_text())["loadtest"]
    master = one(docs, "Deployment", "locust")
    workers = one(docs, "Deployment", "locust-worker")
    service = one(docs, "Service", "locust")
    assert not [s for s in by_kind(docs, "Service") if component(s) == "locust-worker"]

    assert master["spec"]["replicas"] == 1
    assert master["spec"]["strategy"]["type"] == "Recreate"
    assert workers["spec"]["replicas"] == values["workers"]

    service_ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert service_ports == LOCUST  # master (workers connect), web UI, metrics

    m, w = container(master), container(workers)
    assert m["command"][: len(LOCUST_PREFIX)] == LOCUST_PREFIX
    assert w["command"][: len(LOCUST_PREFIX)] == LOCUST_PREFIX
    assert "--master" in m["command"]
    assert "--worker" in w["command"]
    assert {p["name"]: p["containerPort"] for p in m["ports"]} == LOCUST
    assert option(m["command"], "--master-bind-port") == str(LOCUST["master"])
    assert option(m["command"], "--web-port") == str(LOCUST["web"])
    # workers find the master through its Service, on the port it binds
    assert option(w["command"], "--master-host") == service["metadata"]["name"]
    assert option(w["command"], "--master-port") == str(service_ports["master"])
    assert "ports" not in w, "workers serve nothing"

    # ui mode: the run is started from the UI; users, rate and time are its defaults
    assert "--headless" not in m["command"]
    assert "--autostart" not in m["command"]
    assert option(m["command"], "--users") == "50"
    assert option(m["command"], "--spawn-rate") == "5"
    assert option(m["command"], "--run-time") == "10m"

    for doc in (master, workers):
        pod = doc["spec"]["template"]["spec"]
        # Locust reads LOCUST_*: no Docker-link variables of other Services
        assert pod["enableServiceLinks"] is False
        assert {"name": "tmp", "mountPath": "/tmp"} in container(doc)["volumeMounts"]  # noqa: S108


def test_environment_of_master_and_workers(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["loadtest"]
    m = container(one(docs, "Deployment", "locust"))
    w = container(one(docs, "Deployment", "locust-worker"))
    services = {
        s["metadata"]["name"]: s["spec"]["ports"][0]["port"]
        for s in by_kind(docs, "Service")
        if component(s) in {"user", "catalog", "activity"}
    }
    for c in (m, w):
        env = env_of(c)
        for name, key in (
            ("SANDBOX_ADMIN_EMAIL", "admin-email"),
            ("SANDBOX_ADMIN_PASSWORD", "admin-password"),
        ):
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "sandbox-credentials", "key": key}
        for service in ("user", "catalog", "activity"):
            url = env[f"SANDBOX_{service.upper()}_URL"]["value"]
            assert url == f"http://sandbox-{service}:{services[f'sandbox-{service}']}"
        assert "--host" not in c["command"]
    env = env_of(m)
    assert env["LOCUST_METRICS_PORT"]["value"] == str(LOCUST["metrics"])
    assert env["LOCUST_SHAPE"]["value"] == "steady"
    assert env["LOCUST_SLO_PROFILE"]["value"] == "default"
    # the variables are the ones the load tests read
    sources = "".join(p.read_text() for p in LOADTESTS.glob("*.py"))
    for name in ("LOCUST_METRICS_PORT", "LOCUST_SHAPE", "LOCUST_SLO_PROFILE"):
        assert f'env_var="{name}"' in sources, name
    for name in ("SANDBOX_ADMIN_EMAIL", "SANDBOX_ADMIN_PASSWORD"):
        assert f'"{name}"' in sources, name
    assert 'f"SANDBOX_{name.upper()}_URL"' in sources


def test_probes_use_what_locust_serves(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["loadtest"]
    m = container(one(docs, "Deployment", "locust"))
    w = container(one(docs, "Deployment", "locust-worker"))
    # master: the load tests' /metrics server on LOCUST_METRICS_PORT
    assert "/metrics" in (LOADTESTS / "prometheus_export.py").read_text()
    ports = {p["name"]: p["containerPort"] for p in m["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = m[probe]["httpGet"]
        assert get["path"] == "/metrics", probe
        assert ports[get["port"]] == int(env_of(m)["LOCUST_METRICS_PORT"]["value"])
    # workers: connected to the master port (hex, state 01 = ESTABLISHED)
    master_port = int(option(w["command"], "--master-port"))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        command = w[probe]["exec"]["command"]
        assert command[:2] == ["sh", "-c"], probe
        assert f":{master_port:04X} 01 " in command[2], probe
        assert "/proc/net/tcp" in command[2]
    # a worker is restarted after a minute without its master, like Locust's own timeout
    live = w["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] == 60


def test_monitor_route_and_policies(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["loadtest"]
    monitor = one(docs, "ServiceMonitor", "locust")
    service = one(docs, "Service", "locust")
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/component"
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "locust"  # job
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    (route,) = [r for r in by_kind(docs, "HTTPRoute") if component(r) == "locust"]
    assert route["spec"]["hostnames"] == ["locust.localtest.me"]
    ((backend,),) = [rule["backendRefs"] for rule in route["spec"]["rules"]]
    assert backend == {"name": "sandbox-locust", "port": LOCUST["web"]}
    assert route["spec"]["parentRefs"] == [{"name": "sandbox", "namespace": GATEWAY_NS}]
    flows = allowed_flows(docs)
    assert flows[("locust", LOCUST["master"])] == {"locust-worker"}
    assert flows[("locust", LOCUST["web"])] == {f"ns:{GATEWAY_NS}"}
    assert not [key for key in flows if key[0] == "locust-worker"]
    for service_name in ("user", "catalog", "activity"):
        assert flows[(service_name, APP_COMPONENTS[service_name])] >= LOCUST_OBJECTS


def test_headless_and_autostart(helm: str) -> None:
    docs = render_loadtest(
        "--set", "loadtest.mode=headless", "--set", "loadtest.route.enabled=false",
        "--set", "loadtest.workers=3", "--set", "loadtest.runTime=",
    )  # fmt: skip
    m = container(one(docs, "Deployment", "locust"))
    assert "--headless" in m["command"]
    assert option(m["command"], "--expect-workers") == "3"
    assert "--run-time" not in m["command"]
    assert "--web-port" not in m["command"]
    assert {p["name"] for p in m["ports"]} == {"master", "metrics"}
    assert {p["name"] for p in one(docs, "Service", "locust")["spec"]["ports"]} == {
        "master",
        "metrics",
    }
    assert one(docs, "Deployment", "locust-worker")["spec"]["replicas"] == 3
    assert not [r for r in by_kind(docs, "HTTPRoute") if component(r) == "locust"]
    assert ("locust", LOCUST["web"]) not in allowed_flows(docs)

    docs = render_loadtest("--set", "loadtest.mode=autostart", "--set", "loadtest.shape=spike")
    m = container(one(docs, "Deployment", "locust"))
    assert "--autostart" in m["command"]
    assert "--headless" not in m["command"]
    assert option(m["command"], "--expect-workers") == "2"
    assert option(m["command"], "--web-port") == str(LOCUST["web"])
    assert env_of(m)["LOCUST_SHAPE"]["value"] == "spike"

    # the UI route needs the UI
    result = subprocess.run(
        sandbox_chart.template_args("loadtest", "--set", "loadtest.mode=headless"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "loadtest.route.enabled needs the web UI" in result.stderr


def test_load_through_a_gateway_host(helm: str) -> None:
    docs = render_loadtest("--set", "loadtest.host=http://gateway.example:80")
    for name in LOCUST_OBJECTS:
        c = container(one(docs, "Deployment", name))
        assert not [e for e in env_of(c) if e.endswith("_URL")], name
    m = container(one(docs, "Deployment", "locust"))
    assert option(m["command"], "--host") == "http://gateway.example:80"
    flows = allowed_flows(docs)
    for key, peers in EXPECTED_FLOWS.items():
        assert flows[key] == peers, key  # the services gain no direct client


def test_values_schema_rejects_bad_loadtest_values(helm: str) -> None:
    for bad in (
        "loadtest.mode=fast",
        "loadtest.shape=wave",
        "loadtest.workers=0",
        "loadtest.ports.metrics=70000",
        "loadtest.runTime=ten",
        "loadtest.host=gateway:80",
        "loadtest.surprise=1",
    ):
        result = subprocess.run(
            sandbox_chart.template_args("loadtest", "--set", bad),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0, f"values.schema.json accepted {bad}"


def test_schema_names_what_the_load_tests_know() -> None:
    spec = importlib.util.spec_from_file_location("loadtest_shapes", LOADTESTS / "shapes.py")
    shapes = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = shapes  # its dataclasses look their module up
    try:
        spec.loader.exec_module(shapes)
    finally:
        del sys.modules[spec.name]
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]["loadtest"]
    assert set(schema["properties"]["shape"]["enum"]) == set(shapes.SHAPES)
    values = yaml.safe_load((CHART / "values.yaml").read_text())["loadtest"]
    slo = yaml.safe_load((LOADTESTS / "slo.yaml").read_text())
    assert values["sloProfile"] in {"default", "off", *slo.get("profiles", {})}
    # the files the chart's command names are in the image (COPY loadtests /app/loadtests)
    assert (LOADTESTS / "locustfile.py").is_file()
    assert (LOADTESTS / "locust.conf").is_file()
    dockerfile = (ROOT / "docker/Dockerfile.loadtest").read_text()
    assert re.search(r"^COPY loadtests /app/loadtests$", dockerfile, re.M)


def test_make_up_can_add_locust() -> None:
    mk = (ROOT / "deploy/deploy.mk").read_text()
    up = (ROOT / "deploy/scripts/up.sh").read_text()
    assert re.search(r"^LOADTEST \?= 0$", mk, re.M)
    for variable in ("LOADTEST", "LOADTEST_IMAGE"):
        assert re.search(rf"\b{variable}=\$\({variable}\)", mk), variable
    assert "loadtest.enabled=true" in up
    assert "loadtest.image.tag=" in up
