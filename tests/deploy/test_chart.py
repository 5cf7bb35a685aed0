"""The sandbox chart, checked without a cluster: lint, schemas, and what the
rendered objects promise (security, probes, wiring, monitoring, policies)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sandbox_chart
import yaml

from sandbox_common.topology import PROCESS_PORTS
from tests.deploy.conftest import CHART_PROFILES, ROOT, component, workloads

CHART = sandbox_chart.CHART
# The chart's values cannot import the ports' one definition; the tests that
# compare rendered ports with this check that they agree.
APP_COMPONENTS = PROCESS_PORTS
DATASTORES = {"postgres-user": 5432, "postgres-catalog": 5432, "mongo": 27017, "redis": 6379}
EXPORTERS = {
    "postgres-user-exporter": 9187,
    "postgres-catalog-exporter": 9187,
    "mongo-exporter": 9216,
    "redis-exporter": 9121,
}
PROM_NS = "monitoring"
GATEWAY_NS = "envoy-gateway-system"
# Locust (values `loadtest:`): only the loadtest profile enables it.
LOADTEST_PROFILES = {"loadtest"}
LOCUST = {"master": 5557, "web": 8089, "metrics": 9646}
LOCUST_OBJECTS = {"locust", "locust-worker"}

# Who may open a connection to whom inside the release (and from the
# monitoring and gateway namespaces): the contract of issue 6, written out.
EXPECTED_FLOWS = {
    ("postgres-user", 5432): {"user", "worker", "postgres-user-exporter"},
    ("postgres-catalog", 5432): {"catalog", "worker", "postgres-catalog-exporter"},
    ("mongo", 27017): {"activity", "worker", "mongo-exporter"},
    ("redis", 6379): {"user", "catalog", "activity", "worker", "beat", "redis-exporter"},
    ("user", PROCESS_PORTS["user"]): {"catalog", "activity", f"ns:{PROM_NS}", f"ns:{GATEWAY_NS}"},
    ("catalog", PROCESS_PORTS["catalog"]): {"activity", f"ns:{PROM_NS}", f"ns:{GATEWAY_NS}"},
    ("activity", PROCESS_PORTS["activity"]): {f"ns:{PROM_NS}", f"ns:{GATEWAY_NS}"},
    ("worker", PROCESS_PORTS["worker"]): {f"ns:{PROM_NS}"},
    ("beat", PROCESS_PORTS["beat"]): {f"ns:{PROM_NS}"},
    **{(name, port): {f"ns:{PROM_NS}"} for name, port in EXPORTERS.items()},
}
# With Locust in the cluster: its workers reach the master, Prometheus its
# /metrics, the gateway its web UI (ci/loadtest-values.yaml routes it), and
# master and workers the three public services. The workers take nothing.
LOADTEST_FLOWS = {
    ("locust", LOCUST["master"]): {"locust-worker"},
    ("locust", LOCUST["metrics"]): {f"ns:{PROM_NS}"},
    ("locust", LOCUST["web"]): {f"ns:{GATEWAY_NS}"},
}


def expected_flows(profile: str) -> dict[tuple[str, int], set[str]]:
    if profile not in LOADTEST_PROFILES:
        return EXPECTED_FLOWS
    flows = {key: set(peers) for key, peers in EXPECTED_FLOWS.items()}
    for service in ("user", "catalog", "activity"):
        flows[(service, APP_COMPONENTS[service])] |= LOCUST_OBJECTS
    return {**flows, **LOADTEST_FLOWS}


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


# --- lint and render -------------------------------------------------------


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_helm_lint_strict(helm: str, profile: str) -> None:
    result = subprocess.run(
        [
            helm,
            "lint",
            "--strict",
            str(CHART),
            "--kube-version",
            sandbox_chart.KUBE_VERSION,
            "-f",
            str(sandbox_chart.PROFILES[profile]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_values_schema_rejects_bad_values(helm: str) -> None:
    for bad in (
        "app.env=staging",
        "components.user.port=70000",
        "datastores.redis.maxmemory=lots",
        # helm asserts `format` under the schema's draft-07, not under 2019-09 or later
        "app.adminEmail=nobody",
    ):
        result = subprocess.run(
            [
                helm,
                "template",
                "x",
                str(CHART),
                "--kube-version",
                sandbox_chart.KUBE_VERSION,
                "--set",
                bad,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0, f"values.schema.json accepted {bad}"


# The values blocks with container resources: one shared definition checks them all.
RESOURCES_BLOCKS = (
    "components.user",
    "components.beat",
    "migrations",
    "datastores.mongo",
    "datastores.redis.exporter",
    "loadtest.master",
    "loadtest.worker",
)


@pytest.mark.parametrize("block", RESOURCES_BLOCKS)
def test_values_schema_checks_every_resources_block(helm: str, block: str) -> None:
    result = subprocess.run(
        sandbox_chart.template_args("kind", "--set", f"{block}.resources.limits.memory=512"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0, (
        f"values.schema.json accepted {block}.resources.limits.memory=512"
    )
    pointer = "/" + block.replace(".", "/") + "/resources/limits/memory"
    assert f"at '{pointer}': got number, want string" in result.stderr, result.stderr


def test_values_schema_writes_each_shape_once() -> None:
    """A shape used in several places (resources, ports, extraEnv, annotations, a
    component, a datastore) is written once under `definitions` and referenced:
    every $ref names a definition and stands alone (draft-07 ignores keywords
    beside a $ref), every definition is used, and none is copied out again."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    prefix = "#/definitions/"
    shapes = {
        name: {k: v for k, v in body.items() if k != "description"}
        for name, body in schema["definitions"].items()
    }
    used: set[str] = set()

    def walk(node: Any, trail: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{trail}/{index}")
            return
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            assert set(node) == {"$ref"}, f"{trail}: keywords beside $ref are ignored"
            assert node["$ref"].removeprefix(prefix) in shapes, f"{trail}: {node['$ref']}"
            used.add(node["$ref"].removeprefix(prefix))
            return
        bare = {k: v for k, v in node.items() if k != "description"}
        for name, shape in shapes.items():
            if trail != f"/definitions/{name}":
                assert bare != shape, f"{trail} copies {prefix}{name}: use a $ref"
        for key, value in node.items():
            walk(value, f"{trail}/{key}")

    walk(schema, "")
    assert used == set(shapes), f"unused definitions: {sorted(set(shapes) - used)}"


def test_templates_build_no_yaml_in_strings() -> None:
    """Templates hand each other lists and dicts and write YAML where it is
    rendered, never YAML assembled in a string ("- name: run\\n  emptyDir: ...")."""
    for path in sorted((CHART / "templates").iterdir()):
        for action in re.findall(r"\{\{.*?\}\}", path.read_text(), re.S):
            assert "\\n" not in action, f"{path.name}: {action}"


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_objects_match_kubernetes_and_crd_schemas(
    rendered_text: dict[str, str], tool_python: Path, tmp_path: Path, profile: str
) -> None:
    manifest = tmp_path / f"{profile}.yaml"
    manifest.write_text(rendered_text[profile])
    result = subprocess.run(
        [
            str(tool_python),
            str(Path(__file__).parent / "validate_objects.py"),
            sandbox_chart.KUBE_VERSION,
            str(manifest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 problems" in result.stdout


def test_schema_validation_catches_mistakes(tool_python: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "x"},
                    "spec": {"ports": [{"port": 80, "targetport": 8080}]},
                },
                {
                    "apiVersion": "monitoring.coreos.com/v1",
                    "kind": "ServiceMonitor",
                    "metadata": {"name": "x"},
                    "spec": {"selector": {}, "endpoints": [{"port": "http", "intervall": "15s"}]},
                },
            ]
        )
    )
    result = subprocess.run(
        [
            str(tool_python),
            str(Path(__file__).parent / "validate_objects.py"),
            sandbox_chart.KUBE_VERSION,
            str(broken),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "targetport" in result.stdout
    assert "intervall" in result.stdout


def test_manifests_are_up_to_date(helm: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/scripts/render_manifests.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        env={"HELM": helm, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_value_is_documented() -> None:
    """Each leaf key of values.yaml has a `# --` comment, or sits under a documented key."""
    undocumented = []
    documented_parents: list[tuple[int, bool]] = []
    comment: list[str] = []
    for number, line in enumerate((CHART / "values.yaml").read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped)
            continue
        match = re.match(r"^(\s*)([\w.-]+):(.*)$", line)
        if not match:
            comment = []
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3).strip()
        documented_parents = [(i, d) for i, d in documented_parents if i < indent]
        here = any(c.startswith("# --") for c in comment)
        inherited = any(d for _, d in documented_parents)
        if rest and not here and not inherited:
            undocumented.append(f"line {number}: {key}")
        documented_parents.append((indent, here or inherited))
        comment = []
    assert not undocumented, "values without a `# --` comment: " + ", ".join(undocumented)


def test_values_hold_no_password() -> None:
    for path in [
        CHART / "values.yaml",
        *CHART.glob("ci/*.yaml"),
        *(ROOT / "deploy/platform").glob("*.yaml"),
    ]:

        def walk(node: Any, trail: str, path: Path) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if re.search(r"passw(or)?d|secret|token", str(key), re.I) and isinstance(
                        value, str
                    ):
                        assert (
                            value == ""
                            or value.startswith("$")
                            or "Secret" in trail
                            or key in {"existingSecret", "passwordKey"}
                        ), f"{path}: {trail}.{key} holds a literal"
                    walk(value, f"{trail}.{key}", path)
            elif isinstance(node, list):
                for item in node:
                    walk(item, trail, path)

        for data in yaml.safe_load_all(path.read_text()):
            walk(data, path.name, path)


# --- security --------------------------------------------------------------


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_pods_meet_pss_restricted(rendered: dict[str, list[dict[str, Any]]], profile: str) -> None:
    for doc in workloads(rendered[profile]):
        name = doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, name
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert psc.get("runAsUser", 1) != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(key), f"{name}: {key}"
        for volume in pod.get("volumes", []):
            assert set(volume) & {
                "emptyDir",
                "secret",
                "configMap",
                "persistentVolumeClaim",
                "projected",
                "downwardAPI",
                "ephemeral",
            }, f"{name}: volume {volume}"
        for c in containers(doc):
            sc = c.get("securityContext", {})
            where = f"{name}/{c['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            assert not sc.get("privileged"), where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("runAsUser", 1) != 0, where
            assert "hostPort" not in json.dumps(c.get("ports", [])), where


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_service_accounts_do_not_mount_tokens(
    rendered: dict[str, list[dict[str, Any]]], profile: str
) -> None:
    accounts = {d["metadata"]["name"]: d for d in by_kind(rendered[profile], "ServiceAccount")}
    for sa in accounts.values():
        assert sa.get("automountServiceAccountToken") is False, sa["metadata"]["name"]
    for doc in workloads(rendered[profile]):
        assert doc["spec"]["template"]["spec"]["serviceAccountName"] in accounts


# --- probes, resources, ports ----------------------------------------------


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_every_container_has_resources_and_probes(
    rendered: dict[str, list[dict[str, Any]]], profile: str
) -> None:
    for doc in workloads(rendered[profile]):
        for c in containers(doc):
            where = f"{doc['metadata']['name']}/{c['name']}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c.get("resources", {}).get(kind, {})), (
                    f"{where}: {kind}"
                )
            # An init container runs to completion: there is nothing to probe.
            if c in doc["spec"]["template"]["spec"]["containers"]:
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    assert probe in c, f"{where}: {probe}"


def test_probes_use_what_the_app_serves(rendered: dict[str, list[dict[str, Any]]]) -> None:
    # The app's own code names the paths; the chart must use the same ones.
    health_sources = (ROOT / "services/common/sandbox_common").glob("*.py")
    served = "".join(p.read_text() for p in health_sources)
    assert '"/healthz"' in served
    assert '"/readyz"' in served
    found = set()
    for doc in workloads(rendered["kind"]):
        name = component(doc)
        if name not in APP_COMPONENTS:
            continue
        (c,) = doc["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        env = {e["name"]: e.get("value") for e in c["env"]}
        expected = APP_COMPONENTS[name]
        for probe, path in (
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ):
            get = c[probe]["httpGet"]
            assert get["path"] == path, f"{name} {probe}"
            assert ports[get["port"]] == expected, f"{name} {probe} port"
        assert env.get("SANDBOX_PORT", env.get("SANDBOX_METRICS_PORT")) == str(expected)
        found.add(name)
    assert found == set(APP_COMPONENTS)


def test_graceful_shutdown_fits_the_grace_period(rendered: dict[str, list[dict[str, Any]]]) -> None:
    serve = (ROOT / "services/common/sandbox_common/serve.py").read_text()
    drain = int(re.search(r"GRACEFUL_SHUTDOWN_SECONDS\s*=\s*(\d+)", serve).group(1))
    for doc in by_kind(rendered["kind"], "Deployment"):
        if component(doc) in {"user", "catalog", "activity"}:
            pod = doc["spec"]["template"]["spec"]
            pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
            assert pre_stop + drain < pod["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_services_select_their_pods(
    rendered: dict[str, list[dict[str, Any]]], profile: str
) -> None:
    docs = rendered[profile]
    pods = [
        (d, d["spec"]["template"]["metadata"]["labels"])
        for d in workloads(docs)
        if d["kind"] != "Job"
    ]
    for svc in by_kind(docs, "Service"):
        selector = svc["spec"]["selector"]
        assert "helm.sh/chart" not in selector
        matching = [d for d, labels in pods if selector.items() <= labels.items()]
        assert len(matching) == 1, f"{svc['metadata']['name']} selects {len(matching)} workloads"
        container_ports = {p["name"] for c in containers(matching[0]) for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in container_ports, f"{svc['metadata']['name']}:{port}"
    for doc in workloads(docs):
        if doc["kind"] != "Job":
            assert "helm.sh/chart" not in doc["spec"]["selector"]["matchLabels"]
            assert (
                doc["spec"]["selector"]["matchLabels"].items()
                <= doc["spec"]["template"]["metadata"]["labels"].items()
            )


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_env_urls_point_at_release_services(
    rendered: dict[str, list[dict[str, Any]]], profile: str
) -> None:
    docs = rendered[profile]
    services = {
        (s["metadata"]["name"], p["port"])
        for s in by_kind(docs, "Service")
        for p in s["spec"]["ports"]
    }
    checked = 0
    for doc in workloads(docs):
        for c in containers(doc):
            for env in c.get("env", []):
                value = env.get("value") or ""
                if "://" not in value:
                    continue
                url = urlsplit(re.sub(r"\$\(\w+\)", "secret", value))
                assert (url.hostname, url.port) in services, (
                    f"{doc['metadata']['name']}: {env['name']}={value}"
                )
                checked += 1
    assert checked >= 15


def test_env_follows_the_configuration_reference(rendered: dict[str, list[dict[str, Any]]]) -> None:
    reference = (ROOT / "docs/configuration.md").read_text()
    documented = set(re.findall(r"`(SANDBOX_[A-Z0-9_]+)`", reference))
    config = next(
        d
        for d in by_kind(rendered["kind"], "ConfigMap")
        if d["metadata"]["name"].endswith("-config")
    )
    assert config["data"]["SANDBOX_ENV"] == "production"
    for doc in workloads(rendered["kind"]):
        for c in containers(doc):
            if not c["image"].startswith("microservices-sandbox:"):
                continue
            names = {e["name"] for e in c.get("env", [])} | set(config["data"])
            unknown = {n for n in names if n.startswith("SANDBOX_")} - documented
            assert not unknown, f"{doc['metadata']['name']}: undocumented {unknown}"
            values = {e["name"]: e.get("value", "") for e in c.get("env", [])}
            if "SANDBOX_USER_DATABASE_URL" in values:
                assert values["SANDBOX_USER_DATABASE_URL"].startswith("postgresql+psycopg://")
            if "SANDBOX_REDIS_URL" in values:
                assert values["SANDBOX_REDIS_URL"].endswith("/0")
                assert values["SANDBOX_BROKER_URL"].endswith("/1")
    user = next(d for d in by_kind(rendered["kind"], "Deployment") if component(d) == "user")
    env = {e["name"]: e for e in user["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {
        "SANDBOX_JWT_PRIVATE_KEY_FILE",
        "SANDBOX_ADMIN_EMAIL",
        "SANDBOX_ADMIN_PASSWORD",
        "SANDBOX_USER_DATABASE_URL",
        "SANDBOX_REDIS_URL",
        "SANDBOX_BROKER_URL",
    } <= set(env)
    assert "secretKeyRef" in env["SANDBOX_ADMIN_PASSWORD"]["valueFrom"]


def test_images_are_what_deploy_mk_builds(rendered: dict[str, list[dict[str, Any]]]) -> None:
    mk = (ROOT / "deploy/deploy.mk").read_text()
    repository = re.search(r"^IMAGE_REPOSITORY \?= (\S+)", mk, re.M).group(1)
    loadtest = re.search(r"^LOADTEST_IMAGE_REPOSITORY \?= (\S+)", mk, re.M).group(1)
    assert re.search(
        r"^LOADTEST_IMAGE := \$\(LOADTEST_IMAGE_REPOSITORY\):\$\(IMAGE_TAG\)$", mk, re.M
    )
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    third_party = re.compile(r"^(docker\.io|quay\.io|ghcr\.io)/[\w./-]+:[\w.-]+$")
    seen = set()
    for profile in CHART_PROFILES:
        for doc in workloads(rendered[profile]):
            for c in containers(doc):
                if c["image"].startswith(repository + ":"):
                    assert c["image"] == f"{repository}:{app_version}"
                    assert component(doc) not in LOCUST_OBJECTS
                elif c["image"].startswith(loadtest + ":"):
                    assert c["image"] == f"{loadtest}:{app_version}"
                    assert component(doc) in LOCUST_OBJECTS
                    seen.add(component(doc))
                else:
                    assert third_party.match(c["image"]), c["image"]
                    assert not c["image"].endswith(":latest")
    assert seen == LOCUST_OBJECTS


# --- secrets ---------------------------------------------------------------


def test_generated_secrets(rendered: dict[str, list[dict[str, Any]]]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    secrets = {d["metadata"]["name"]: d for d in by_kind(rendered["kind"], "Secret")}
    creds = secrets["sandbox-credentials"]
    assert creds["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for key in (
        "admin-password",
        "postgres-user-password",
        "postgres-catalog-password",
        "mongo-password",
        "redis-password",
    ):
        assert len(base64.b64decode(creds["data"][key])) >= 24
    pem = base64.b64decode(secrets["sandbox-jwt"]["data"]["private-key.pem"])
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert isinstance(load_pem_private_key(pem, password=None), Ed25519PrivateKey)
    # lookup keeps them across upgrades; the template must read the existing Secret
    assert "lookup" in (CHART / "templates/secrets.yaml").read_text()
    # with existing Secrets nothing secret is rendered at all
    assert not by_kind(rendered["manifests"], "Secret")


# --- datastores, jobs ------------------------------------------------------


def test_datastores_and_exporters(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["kind"]
    stateful = {component(d): d for d in by_kind(docs, "StatefulSet")}
    assert set(stateful) == set(DATASTORES)
    for name, sts in stateful.items():
        assert sts["spec"]["volumeClaimTemplates"], name
        image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith("docker.io/library/")
        assert "bitnami" not in image
    redis = stateful["redis"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert redis[redis.index("--maxmemory-policy") + 1] == "noeviction"
    exporters = {
        component(d): d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in by_kind(docs, "Deployment")
        if component(d).endswith("-exporter")
    }
    assert set(exporters) == set(EXPORTERS)
    assert "prometheuscommunity/postgres-exporter" in exporters["postgres-user-exporter"]
    assert "percona/mongodb_exporter" in exporters["mongo-exporter"]
    assert "oliver006/redis_exporter" in exporters["redis-exporter"]


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_every_volume_is_mounted(rendered: dict[str, list[dict[str, Any]]], profile: str) -> None:
    """The workload template makes the volumes (/tmp, emptyDirs, the JWT key,
    volume claims) and each container template its mounts: they must pair up."""
    for doc in workloads(rendered[profile]):
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"] for v in pod.get("volumes", [])}
        volumes |= {
            claim["metadata"]["name"] for claim in doc["spec"].get("volumeClaimTemplates", [])
        }
        mounts = {m["name"] for c in containers(doc) for m in c.get("volumeMounts", [])}
        assert mounts == volumes, doc["metadata"]["name"]


def test_volume_claims_follow_the_values(rendered: dict[str, list[dict[str, Any]]]) -> None:
    datastores = yaml.safe_load((CHART / "values.yaml").read_text())["datastores"]
    for profile, storage_class in (("kind", None), ("minikube", "standard")):
        for sts in by_kind(rendered[profile], "StatefulSet"):
            (claim,) = sts["spec"]["volumeClaimTemplates"]
            assert claim["metadata"]["name"] == "data"
            assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
            assert claim["spec"].get("storageClassName") == storage_class
            storage = claim["spec"]["resources"]["requests"]["storage"]
            assert storage == datastores[component(sts)]["storage"]


def test_migrations_run_before_the_processes_that_need_them(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """No process starts before its database is at its code's schema: an init
    container migrates each database a component uses; nothing runs after the
    pods are up (no hook Job)."""
    assert not by_kind(rendered["kind"], "Job")
    expected = {
        "user": ["sandbox-migrate user"],
        "catalog": ["sandbox-migrate catalog"],
        "worker": ["sandbox-migrate user", "sandbox-migrate catalog"],
        "activity": [],
        "beat": [],
    }
    for deployment in by_kind(rendered["kind"], "Deployment"):
        name = component(deployment)
        if name not in expected:
            continue
        init = deployment["spec"]["template"]["spec"].get("initContainers", [])
        commands = [part.split(" --wait")[0]
                    for c in init for part in c["command"][-1].split(" && ")]  # fmt: skip
        assert commands == expected[name], name
        for container in init:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_beat_is_a_single_replica(rendered: dict[str, list[dict[str, Any]]]) -> None:
    beat = next(d for d in by_kind(rendered["kind"], "Deployment") if component(d) == "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert not [
        d
        for d in rendered["kind"]
        if d["kind"] == "HorizontalPodAutoscaler" and component(d) == "beat"
    ]


def test_autoscaling_can_be_enabled(helm: str) -> None:
    docs = sandbox_chart.render("kind", "--set", "components.catalog.autoscaling.enabled=true")
    (hpa,) = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "sandbox-catalog"
    catalog = next(d for d in docs if d["kind"] == "Deployment" and component(d) == "catalog")
    assert "replicas" not in catalog["spec"]


def test_checksum_annotations_follow_the_config(helm: str) -> None:
    def checksum(*extra: str) -> str:
        docs = sandbox_chart.render("kind", *extra)
        user = next(d for d in docs if d["kind"] == "Deployment" and component(d) == "user")
        return user["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum() == checksum()
    assert checksum() != checksum("--set", "app.logLevel=DEBUG")


def test_only_pods_that_read_the_config_roll_with_it(helm: str) -> None:
    """A log level must not restart a database: only pods with the ConfigMap in
    their environment carry its checksum."""
    for doc in sandbox_chart.render("kind"):
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = doc["spec"]["template"]
        reads_config = any(
            source.get("configMapRef")
            for c in pod["spec"]["containers"]
            for source in c.get("envFrom", [])
        )
        annotated = "checksum/config" in (pod["metadata"].get("annotations") or {})
        assert annotated == reads_config, doc["metadata"]["name"]


# --- monitoring ------------------------------------------------------------


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_every_metrics_port_has_a_service_monitor(
    rendered: dict[str, list[dict[str, Any]]], profile: str
) -> None:
    docs = rendered[profile]
    monitors = by_kind(docs, "ServiceMonitor")
    expected_ports = {**APP_COMPONENTS, **EXPORTERS}
    if profile in LOADTEST_PROFILES:
        expected_ports["locust"] = LOCUST["metrics"]
    covered = set()
    for svc in by_kind(docs, "Service"):
        name = svc["metadata"]["labels"]["app.kubernetes.io/component"]
        if name not in expected_ports:
            continue
        ports = svc["spec"]["ports"]
        # the metrics port: the only one, or the one named `metrics` (Locust's master)
        (port,) = ports if len(ports) == 1 else [p for p in ports if p["name"] == "metrics"]
        assert port["port"] == expected_ports[name]
        matches = [
            m
            for m in monitors
            if m["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
            and any(
                e["port"] == port["name"] and e["path"] == "/metrics"
                for e in m["spec"]["endpoints"]
            )
        ]
        assert len(matches) == 1, name
        # job label = the component: user, catalog, activity, worker, beat, locust
        assert matches[0]["spec"]["jobLabel"] == "app.kubernetes.io/component"
        covered.add(name)
    assert covered == set(expected_ports)
    assert len(monitors) == len(expected_ports)


def test_prometheus_rule_is_built_from_the_rule_files(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    files = sorted((ROOT / "observability/prometheus/rules").glob("*.yml"))
    groups = [g for f in files for g in (yaml.safe_load(f.read_text()) or {}).get("groups", [])]
    rules = by_kind(rendered["kind"], "PrometheusRule")
    if not groups:
        assert not rules
        return
    (rule,) = rules
    assert [g["name"] for g in rule["spec"]["groups"]] == [g["name"] for g in groups]
    assert rule["spec"]["groups"] == groups


def test_dashboards_are_configmaps_of_valid_json(rendered: dict[str, list[dict[str, Any]]]) -> None:
    files = sorted((ROOT / "observability/grafana/dashboards").glob("*.json"))
    maps = [
        d
        for d in by_kind(rendered["kind"], "ConfigMap")
        if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(maps) == len(files)
    for cm in maps:
        ((key, text),) = cm["data"].items()
        dashboard = json.loads(text)
        assert key.endswith(".json")
        assert dashboard.get("title")
        assert "panels" in dashboard
        assert dashboard == json.loads(
            (ROOT / "observability/grafana/dashboards" / key).read_text()
        )


# --- network policies ------------------------------------------------------


def allowed_flows(docs: list[dict[str, Any]]) -> dict[tuple[str, int], set[str]]:
    flows: dict[tuple[str, int], set[str]] = {}
    for policy in by_kind(docs, "NetworkPolicy"):
        target = (
            policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
        )
        if target is None:
            assert policy["spec"].get("ingress") in (None, []), (
                "the default-deny policy allows something"
            )
            assert policy["spec"]["policyTypes"] == ["Ingress"]
            continue
        for rule in policy["spec"].get("ingress", []):
            peers = set()
            for peer in rule["from"]:
                if "namespaceSelector" in peer:
                    assert "podSelector" not in peer
                    peers.add(
                        "ns:"
                        + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    )
                else:
                    (expression,) = peer["podSelector"]["matchExpressions"]
                    assert expression["key"] == "app.kubernetes.io/component"
                    assert expression["operator"] == "In"
                    assert (
                        peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"]
                        == "sandbox"
                    )
                    peers |= set(expression["values"])
            for port in rule["ports"]:
                flows.setdefault((target, port["port"]), set()).update(peers)
    return flows


@pytest.mark.parametrize("profile", CHART_PROFILES)
def test_network_policies_allow_exactly_the_needed_flows(
    rendered: dict[str, list[dict[str, Any]]], profile: str
) -> None:
    assert allowed_flows(rendered[profile]) == expected_flows(profile)
    # every pod of the release is covered by the default deny
    deny = next(
        p
        for p in by_kind(rendered[profile], "NetworkPolicy")
        if p["metadata"]["name"].endswith("default-deny")
    )
    for doc in workloads(rendered[profile]):
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert deny["spec"]["podSelector"]["matchLabels"].items() <= labels.items()


def test_gateway_routes_by_prefix(rendered: dict[str, list[dict[str, Any]]]) -> None:
    routes = {}
    for route in by_kind(rendered["kind"], "HTTPRoute"):
        (rule,) = route["spec"]["rules"]
        (backend,) = rule["backendRefs"]
        for match in rule["matches"]:
            assert match["path"]["type"] == "PathPrefix"
            routes[match["path"]["value"]] = (backend["name"], backend["port"])
    assert routes == {
        "/api/v1/auth": ("sandbox-user", PROCESS_PORTS["user"]),
        "/api/v1/users": ("sandbox-user", PROCESS_PORTS["user"]),
        "/.well-known": ("sandbox-user", PROCESS_PORTS["user"]),
        "/api/v1/categories": ("sandbox-catalog", PROCESS_PORTS["catalog"]),
        "/api/v1/products": ("sandbox-catalog", PROCESS_PORTS["catalog"]),
        "/api/v1/activity": ("sandbox-activity", PROCESS_PORTS["activity"]),
    }
