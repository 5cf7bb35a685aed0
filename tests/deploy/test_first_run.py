"""What a first `make up` on a laptop would meet, checked without a cluster:
the keys of a Secret of your own, the platform values as the pinned upstream
charts read them, the exporters' flags, the version floors and image steps
of deploy/scripts/up.sh."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sandbox_chart
import yaml

from tests.deploy.conftest import ROOT

CHART = sandbox_chart.CHART
SCRIPTS = ROOT / "deploy" / "scripts"


def secret_key_refs(docs: list[dict[str, Any]], secret: str) -> set[str]:
    """Every key of `secret` an object of the rendered chart reads."""
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict) and ref.get("name") == secret:
                keys.add(ref["key"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(docs)
    return keys


# --- bring your own Secret --------------------------------------------------


def test_every_key_the_pods_read_is_generated_documented_and_created(helm: str) -> None:
    # Everything the chart can render: Locust on, every datastore and exporter on.
    own = sandbox_chart.render(
        "loadtest", "--set", "secrets.existingSecret=own", "--set", "migrations.enabled=true"
    )
    read = secret_key_refs(own, "own")
    assert {"admin-email", "admin-password"} <= read
    assert not [d for d in own if d["kind"] == "Secret" and d["metadata"]["name"] == "own"]

    generated = sandbox_chart.render("loadtest")
    (credentials,) = [
        d
        for d in generated
        if d["kind"] == "Secret" and d["metadata"]["name"] == "sandbox-credentials"
    ]
    assert set(credentials["data"]) == read

    values = (CHART / "values.yaml").read_text()
    block = values.split("\nsecrets:\n", 1)[1].split("existingSecret:", 1)[0]
    documented = set(re.findall(r"`([a-z-]+)`", block)) - {"passwordKey"}
    assert documented == read, "values.yaml (secrets.existingSecret) documents other keys"

    script = (SCRIPTS / "create-secrets.sh").read_text()
    created = set(re.findall(r"--from-literal=([a-z-]+)=", script))
    assert created == read, "create-secrets.sh creates other keys than the pods read"


# --- platform values, as the pinned charts read them ------------------------

PLATFORM = ROOT / "deploy" / "platform"


def platform_values(name: str) -> dict[str, Any]:
    return yaml.safe_load((PLATFORM / name).read_text())


def test_grafana_lists_no_alertmanager_when_none_runs() -> None:
    # kube-prometheus-stack 88.5.3 adds the Alertmanager data source on
    # grafana.sidecar.datasources.alertmanager.enabled alone (default true).
    values = platform_values("kube-prometheus-stack.yaml")
    assert values["alertmanager"]["enabled"] is False
    sidecar = values["grafana"]["sidecar"]["datasources"]
    assert sidecar.get("alertmanager", {}).get("enabled", True) is False


def test_eck_operator_telemetry_is_off_by_the_key_its_chart_reads() -> None:
    # eck-operator 3.5.0 renders `disable-telemetry: {{ .Values.telemetry.disabled }}`;
    # nothing reads config.disableTelemetry.
    values = platform_values("eck-operator.yaml")
    assert values.get("telemetry", {}).get("disabled") is True
    assert "disableTelemetry" not in (values.get("config") or {})


# --- exporters: what the dashboards read -------------------------------------

# Series prefix -> the mongodb_exporter flag whose collector exports it
# (v0.44.0 main.go: every collector but the exporter's own metrics is off by
# default; exporter/metrics.go names serverStatus fields mongodb_ss_*).
MONGODB_EXPORTER_COLLECTORS = {
    "mongodb_ss_": "--collector.diagnosticdata",
    "mongodb_rs_": "--collector.replicasetstatus",
    "mongodb_dbstats_": "--collector.dbstats",
    "mongodb_top_": "--collector.topmetrics",
    "mongodb_indexstats_": "--collector.indexstats",
    "mongodb_collstats_": "--collector.collstats",
}
DASHBOARDS = ROOT / "observability" / "grafana" / "dashboards"


def test_mongodb_exporter_runs_the_collectors_the_dashboards_read(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    queried = set()
    for dashboard in DASHBOARDS.glob("*.json"):
        queried |= set(re.findall(r"\b(mongodb_[a-z0-9_]+)", dashboard.read_text()))
    needed = {
        flag
        for metric in queried
        for prefix, flag in MONGODB_EXPORTER_COLLECTORS.items()
        if metric.startswith(prefix)
    }
    assert {"--collector.dbstats", "--collector.collstats"} <= needed
    for profile in ("kind", "lite", "manifests"):
        (exporter,) = [
            d
            for d in rendered[profile]
            if d["kind"] == "Deployment" and d["metadata"]["name"] == "sandbox-mongo-exporter"
        ]
        (container,) = exporter["spec"]["template"]["spec"]["containers"]
        # The image's ENTRYPOINT is the exporter, so args are its flags.
        assert "command" not in container
        args = container.get("args", [])
        assert needed <= set(args), profile
        # $collStats runs only for the collections named, or all with discovering mode.
        assert "--discovering-mode" in args or any(
            a.startswith("--mongodb.collstats-colls") for a in args
        ), profile


# --- deploy/scripts/up.sh, its steps run against stand-in commands ----------

UP = SCRIPTS / "up.sh"


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """Where a test's stand-in commands go: run_step puts it first on PATH."""
    path = tmp_path / "bin"
    path.mkdir()
    return path


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


def run_step(
    tmp_path: Path, script: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Source up.sh (which defines its steps and runs nothing) and run `script`,
    with tmp_path/bin first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    full_env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CLUSTER": "kind",
        "KIND": "kind",
        "KUBECTL": "kubectl",
        "HELM": "helm",
        "LOG": str(tmp_path / "calls.log"),
        **(env or {}),
    }
    return subprocess.run(
        ["bash", "-c", f'source "{UP}"; {script}'],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def tool_stubs(tmp_path: Path, kind: str = "v0.33.0", kubectl: str = "v1.37.0") -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub(bin_dir, "docker", 'case "$1" in version) echo 27.5.1 ;; info) ;; esac')
    stub(bin_dir, "kubectl", f"echo 'Client Version: {kubectl}'")
    stub(bin_dir, "helm", "echo v3.22.0+g0000000")
    stub(bin_dir, "kind", f"echo 'kind {kind} go1.25.0 linux/amd64'")
    stub(bin_dir, "minikube", "echo v1.37.0")


def test_kind_that_cannot_create_the_pinned_node_is_refused(tmp_path: Path) -> None:
    node = re.search(
        r"kindest/node:v(\d+)\.(\d+)", (ROOT / "deploy/k8s/kind-config.yaml").read_text()
    )
    assert node
    assert (int(node[1]), int(node[2])) >= (1, 36)
    tool_stubs(tmp_path, kind="v0.31.0")
    result = run_step(tmp_path, "check_prerequisites")
    assert result.returncode != 0
    assert "kind v0.31.0" not in result.stderr
    assert "0.31.0 is older than 0.32.0" in result.stderr
    tool_stubs(tmp_path, kind="v0.32.0")
    result = run_step(tmp_path, "check_prerequisites")
    assert result.returncode == 0, result.stderr


def test_kubectl_outside_the_skew_of_the_cluster_is_refused(tmp_path: Path) -> None:
    # kind's node runs 1.37: kubectl 1.36 is the oldest within one minor version.
    tool_stubs(tmp_path, kubectl="v1.35.3")
    result = run_step(tmp_path, "check_prerequisites")
    assert result.returncode != 0
    assert "1.35.3 is older than 1.36" in result.stderr
    tool_stubs(tmp_path, kubectl="v1.36.0")
    assert run_step(tmp_path, "check_prerequisites").returncode == 0


def test_minikube_runs_a_pinned_kubernetes_it_and_envoy_gateway_support(tmp_path: Path) -> None:
    tool_stubs(tmp_path, kubectl="v1.34.0")
    result = run_step(
        tmp_path, "check_prerequisites; echo $MINIKUBE_KUBERNETES_VERSION", {"CLUSTER": "minikube"}
    )
    # minikube 1.37.0's newest Kubernetes is 1.34.0: older than what we pin.
    assert result.returncode != 0
    assert "older than 1.38.0" in result.stderr
    (tmp_path / "bin" / "minikube").write_text("#!/usr/bin/env bash\necho v1.38.1\n")
    result = run_step(
        tmp_path, "check_prerequisites; echo $MINIKUBE_KUBERNETES_VERSION", {"CLUSTER": "minikube"}
    )
    assert result.returncode == 0, result.stderr
    # Envoy Gateway v1.9.0 is tested on Kubernetes 1.33 to 1.36.
    assert result.stdout.strip() in {"v1.33.0", "v1.34.0", "v1.35.0", "v1.35.1"}
    assert '--kubernetes-version="$MINIKUBE_KUBERNETES_VERSION"' in UP.read_text()


def test_kind_load_falls_back_to_an_image_archive(tmp_path: Path, bin_dir: Path) -> None:
    stub(
        bin_dir,
        "kind",
        'echo "kind $*" >> "$LOG"; [[ "$2" == image-archive ]] && [[ -s "${@: -1}" ]]',
    )
    stub(bin_dir, "docker", 'echo "docker $*" >> "$LOG"; [[ "$1" == save ]] && echo tar > "$3"')
    result = run_step(tmp_path, "cluster_load example/image:1")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[0] == "kind load docker-image --name sandbox example/image:1"
    assert calls[1].startswith("docker save -o ")
    assert calls[1].endswith(" example/image:1")
    assert calls[2].startswith("kind load image-archive --name sandbox ")


def test_images_are_pulled_on_the_host_and_a_refused_pull_is_named(
    tmp_path: Path, helm: str, bin_dir: Path
) -> None:
    stub(
        bin_dir,
        "docker",
        'case "$1" in image) exit 1 ;; pull) echo "toomanyrequests: You have reached your'
        ' unauthenticated pull rate limit" >&2; exit 1 ;; esac',
    )
    result = run_step(tmp_path, "pull_image docker.io/library/postgres:17.6")
    assert result.returncode != 0
    assert "docker.io/library/postgres:17.6" in result.stderr
    assert "docker login" in result.stderr
    assert "rate limit" in result.stderr
    # What is pulled: every image of the chart but ours.
    result = run_step(
        tmp_path,
        "chart_images ci/kind-values.yaml",
        {"HELM": helm, "IMAGE": "microservices-sandbox:0.1.0"},
    )
    assert result.returncode == 0, result.stderr
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    expected = {d["image"] for d in values["datastores"].values()} | {
        d["exporter"]["image"] for d in values["datastores"].values()
    }
    assert set(result.stdout.split()) == expected


def test_seed_runs_once_on_the_releases_catalog_and_shows_its_error(
    tmp_path: Path, bin_dir: Path
) -> None:
    stub(
        bin_dir,
        "kubectl",
        'echo "kubectl $*" >> "$LOG"\n'
        'case "$3" in get) echo deployment.apps/demo-sandbox-catalog ;;'
        ' exec) echo "database is gone" >&2; exit 1 ;; esac',
    )
    result = run_step(tmp_path, "seed", {"RELEASE": "demo"})
    assert result.returncode != 0
    assert "database is gone" in result.stderr
    assert "seeding failed" in result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert "app.kubernetes.io/instance=demo,app.kubernetes.io/component=catalog" in calls[0]
    assert [c for c in calls if " exec " in c] == [
        "kubectl -n sandbox exec deployment.apps/demo-sandbox-catalog -- sandbox-seed"
    ]


def test_grafana_and_kibana_urls_follow_host_port(tmp_path: Path) -> None:
    result = run_step(tmp_path, "grafana_url; kibana_url", {"HOST_PORT": "9090"})
    assert result.stdout.split() == [
        "http://grafana.localtest.me:9090",
        "http://kibana.localtest.me:9090",
    ]
    for name in ("kube-prometheus-stack.yaml", "eck-stack.yaml"):
        assert "localtest.me" not in (PLATFORM / name).read_text(), name
    up = UP.read_text()
    assert 'grafana.grafana\\.ini.server.root_url=$(grafana_url)"' in up
    assert 'eck-kibana.config.server\\.publicBaseUrl=$(kibana_url)"' in up


def test_elasticsearch_and_kibana_get_what_eck_gives_them_by_default() -> None:
    # ECK 3.5.0: 2 GiB for Elasticsearch (nodespec/defaults.go) and for Kibana,
    # whose 9.x crashes during plugin initialisation at 1 GiB (kibana/pod.go).
    stack = platform_values("eck-stack.yaml")
    (node_set,) = stack["eck-elasticsearch"]["nodeSets"]
    (es,) = node_set["podTemplate"]["spec"]["containers"]
    (kibana,) = stack["eck-kibana"]["podTemplate"]["spec"]["containers"]
    for container in (es, kibana):
        for bound in ("requests", "limits"):
            assert container["resources"][bound]["memory"] == "2Gi", container["name"]
    # Without ES_JAVA_OPTS the JVM sizes its heap from the container's memory.
    assert not [e for e in es.get("env", []) if e["name"] == "ES_JAVA_OPTS"]
    # One node on a laptop disk: no watermark may turn it red.
    assert node_set["config"]["cluster.routing.allocation.disk.threshold_enabled"] is False


def fluent_bit_sections(text: str) -> list[dict[str, str]]:
    sections: list[dict[str, str]] = []
    for line in text.splitlines():
        if line.strip().startswith("["):
            sections.append({})
        elif line.strip():
            key, _, value = line.strip().partition(" ")
            sections[-1][key.lower()] = value.strip()
    return sections


def test_fluent_bit_keeps_one_timestamp_ids_its_documents_and_remembers_positions() -> None:
    config = platform_values("fluent-bit.yaml")["config"]
    (tail,) = fluent_bit_sections(config["inputs"])
    (kubernetes,) = fluent_bit_sections(config["filters"])
    (es,) = fluent_bit_sections(config["outputs"])
    parsers = {p["name"]: p for p in fluent_bit_sections(config.get("customParsers", ""))}
    # The es output writes Time_Key (default @timestamp) from the record's time,
    # always; a merged @timestamp of our lines must not reach it as a key.
    assert es.get("time_key", "@timestamp") == "@timestamp"
    assert kubernetes["merge_log"] == "On"
    parser = parsers[kubernetes["merge_parser"]]
    assert parser["format"] == "json"
    assert parser["time_key"] == "@timestamp"
    assert parser["time_keep"] == "Off"
    # Our event time (structlog's ISO 8601 in UTC, "...T12:00:00.123456Z") parses.
    assert parser["time_format"] == "%Y-%m-%dT%H:%M:%S.%L%z"
    assert es["generate_id"] == "On"
    # The read positions on the node (the chart mounts /var/log from the host).
    assert tail["db"].startswith("/var/log/")


def test_fluent_bit_ships_only_the_sandbox_namespace_after_the_template() -> None:
    values = platform_values("fluent-bit.yaml")
    (tail,) = fluent_bit_sections(values["config"]["inputs"])
    # kubelet's names: /var/log/containers/<pod>_<namespace>_<container>-<id>.log
    assert tail["path"] == "/var/log/containers/*_${SANDBOX_NAMESPACE}_*.log"
    (env,) = [e for e in values["envWithTpl"] if e["name"] == "SANDBOX_NAMESPACE"]
    assert env["value"] == "{{ .Values.sandboxNamespace }}"
    up = UP.read_text()
    assert '--set-string "sandboxNamespace=$NAMESPACE"' in up
    # The index template and pipeline are in Elasticsearch before Fluent Bit runs;
    # the saved objects go to Kibana once it reports green.
    order = [
        up.index("import-elastic.sh elasticsearch"),
        up.index("helm_up fluent-bit"),
        up.index("wait_for_health kibana kibana green"),
        up.index("import-elastic.sh kibana"),
    ]
    assert order == sorted(order)


def test_kibana_import_retries_with_fresh_port_forwards(tmp_path: Path, bin_dir: Path) -> None:
    log = tmp_path / "calls.log"
    stub(bin_dir, "kubectl", 'echo "kubectl $*" >> "$LOG"; exec sleep 60')
    stub(bin_dir, "curl", "exit 0")
    # The loader fails once (a dropped forward), then succeeds.
    stub(
        bin_dir,
        "loader",
        'echo "load $*" >> "$LOG"; n=$(grep -c ^load "$LOG"); [[ $n -ge 2 ]]',
    )
    result = subprocess.run(
        ["bash", str(SCRIPTS / "import-elastic.sh"), "kibana"],
        capture_output=True,
        text=True,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "LOG": str(log),
            "ES_PASSWORD": "x",
            "PYTHON": "loader",
            "ATTEMPTS": "3",
        },
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    forwards = [c for c in calls if "port-forward" in c]
    assert len(forwards) == 4, calls  # Elasticsearch and Kibana, twice
    assert len([c for c in calls if c.startswith("load ")]) == 2
    assert "retrying with fresh port-forwards" in result.stderr


def test_helm_assumes_a_current_kubernetes_without_kube_version(tmp_path: Path, helm: str) -> None:
    # Helm's default is 1.20 unless its kube-version ldflags are set
    # (install-tools.sh sets them as Helm's Makefile does).
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "v.yaml").write_text(
        "# {{ .Capabilities.KubeVersion.Major }}.{{ .Capabilities.KubeVersion.Minor }}\n"
    )
    result = subprocess.run(
        [helm, "template", "probe", str(chart)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    major, minor = re.search(r"# (\d+)\.(\d+)", result.stdout).groups()
    floor = re.search(r'kubeVersion: ">=(\d+)\.(\d+)', (CHART / "Chart.yaml").read_text()).groups()
    assert (int(major), int(minor)) >= (int(floor[0]), int(floor[1])), f"{major}.{minor}"


def test_platform_images_are_pulled_on_the_host_before_their_chart_installs(
    tmp_path: Path, bin_dir: Path
) -> None:
    """Every image a platform chart renders (pods, and custom resources such as
    Prometheus that name one) and the gateway's proxy are pulled on the host
    and loaded, before `helm upgrade` could make the node pull them."""
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(
        "spec:\n  containers:\n    - name: a\n      image: docker.io/grafana/grafana:12.0.0\n"
        '    - image: "quay.io/kiwigrid/k8s-sidecar:1.30.0"\n'
        "---\nkind: Prometheus\nspec:\n  image: quay.io/prometheus/prometheus:v3.5.0\n"
        "  podMetadata:\n    image: {}\n"
    )
    stub(bin_dir, "helm", f'echo "helm $1" >> "$LOG"; [[ "$1" != template ]] || cat "{manifest}"')
    stub(bin_dir, "docker", 'echo "docker $1 ${@: -1}" >> "$LOG"; [[ "$1" != image ]]')
    stub(bin_dir, "kind", 'echo "kind $2 ${@: -1}" >> "$LOG"')
    result = run_step(tmp_path, "helm_up kps monitoring chart 1.0 repo values.yaml")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    images = [
        "docker.io/grafana/grafana:12.0.0",
        "quay.io/kiwigrid/k8s-sidecar:1.30.0",
        "quay.io/prometheus/prometheus:v3.5.0",
    ]
    pulled = [c.split()[-1] for c in calls if c.startswith("docker pull")]
    loaded = [c.split()[-1] for c in calls if c.startswith("kind docker-image")]
    assert pulled == images
    assert loaded == images
    assert calls.index("helm upgrade") > max(calls.index(f"kind docker-image {i}") for i in images)
    # The proxy Envoy Gateway starts is named in our EnvoyProxy, so it is pulled too.
    gateway = (ROOT / "deploy/platform/gateway.yaml").read_text()
    assert "image: docker.io/envoyproxy/envoy:distroless-" in gateway


def test_the_elastic_images_eck_runs_are_pulled_at_the_versions_we_ask_for(
    tmp_path: Path,
) -> None:
    values = platform_values("eck-stack.yaml")
    result = run_step(tmp_path, "elastic_images")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        f"docker.elastic.co/elasticsearch/elasticsearch:{values['eck-elasticsearch']['version']}",
        f"docker.elastic.co/kibana/kibana:{values['eck-kibana']['version']}",
    ]
    assert "for image in $(elastic_images)" in (SCRIPTS / "up.sh").read_text()
