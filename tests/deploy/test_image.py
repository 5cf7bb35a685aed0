"""The sandbox images, built and started with a local Docker engine: every
role of the service image answers /healthz as a non-root user on a read-only
root filesystem; the Locust image runs the chart's master and worker commands
the same way, and they find each other.

Skipped without a Docker engine, unless SANDBOX_REQUIRE_DOCKER=1 (CI), which
turns a missing engine into a failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sandbox_common.topology import BEAT_METRICS_PORT, SERVICE_PORTS, WORKER_METRICS_PORT
from tests.deploy.conftest import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MAX_IMAGE_BYTES = 250 * 10**6
UID = "10001"
# role -> (command, port, module file that must exist for the role to start)
ROLES = {
    **{
        service: (["sandbox-serve", service], port, f"services/{service}/{service}_service/main.py")
        for service, port in SERVICE_PORTS.items()
    },
    "worker": (["sandbox-worker"], WORKER_METRICS_PORT, "services/worker/sandbox_worker/run.py"),
    "beat": (["sandbox-beat"], BEAT_METRICS_PORT, "services/worker/sandbox_worker/run.py"),
}
# Dependencies that do not answer: the processes must still start (readyz 503, healthz 200).
UNREACHABLE = {
    "SANDBOX_ENV": "local",
    "SANDBOX_LOG_FORMAT": "json",
    "SANDBOX_REDIS_URL": "redis://127.0.0.1:9/0",
    "SANDBOX_BROKER_URL": "redis://127.0.0.1:9/1",
    "SANDBOX_USER_DATABASE_URL": "postgresql+psycopg://sandbox:x@127.0.0.1:9/users",
    "SANDBOX_CATALOG_DATABASE_URL": "postgresql+psycopg://sandbox:x@127.0.0.1:9/catalog",
    "SANDBOX_MONGO_URL": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500",
    "SANDBOX_USER_URL": "http://127.0.0.1:9",
    "SANDBOX_CATALOG_URL": "http://127.0.0.1:9",
    "SANDBOX_JWT_PRIVATE_KEY_FILE": "/keys/private-key.pem",
}


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def image() -> str:
    if not docker_available():
        if os.environ.get("SANDBOX_REQUIRE_DOCKER") == "1":
            pytest.fail(
                "SANDBOX_REQUIRE_DOCKER=1 but no Docker engine answers "
                "(run deploy/scripts/ci-prereqs.sh)"
            )
        pytest.skip("no Docker engine (set SANDBOX_REQUIRE_DOCKER=1 to make this a failure)")
    mk = (ROOT / "deploy/deploy.mk").read_text()
    repository = re.search(r"^IMAGE_REPOSITORY \?= (\S+)", mk, re.M).group(1)
    tag = yaml.safe_load((ROOT / "deploy/helm/sandbox/Chart.yaml").read_text())["appVersion"]
    ref = f"{repository}:{tag}"
    env = dict(os.environ, IMAGE=ref, LOADTEST_IMAGE="")
    base_file = ROOT / ".tools" / "python-image"
    if "PYTHON_IMAGE" not in env and base_file.exists():
        env["PYTHON_IMAGE"] = base_file.read_text().strip()
    result = subprocess.run(
        ["bash", str(ROOT / "deploy/scripts/images.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return ref


def inspect(ref: str) -> dict:
    return json.loads(
        subprocess.run(
            ["docker", "image", "inspect", ref], capture_output=True, text=True, check=True
        ).stdout
    )[0]


@pytest.mark.timeout(1800)
def test_image_is_small_non_root_and_exec_form(image: str) -> None:
    info = inspect(image)
    assert info["Size"] < MAX_IMAGE_BYTES, f"{info['Size'] / 1e6:.0f} MB"
    config = info["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert not config.get("Entrypoint")
    assert isinstance(config["Cmd"], list)
    assert config["Cmd"][0] == "sandbox-serve"
    assert info["Architecture"] == {"x86_64": "amd64", "aarch64": "arm64"}.get(
        os.uname().machine, os.uname().machine
    )


@pytest.mark.timeout(600)
def test_image_has_no_compiler_and_no_secret(image: str) -> None:
    result = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "for c in gcc cc c++ g++ clang make ld; do command -v $c; done; "
            "ls /run/secrets 2>/dev/null; "
            "command -v pip || true; id -u",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.stdout.split() == [UID], result.stdout + result.stderr


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory = tmp_path_factory.mktemp("keys")
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (directory / "private-key.pem").write_bytes(pem)
    directory.chmod(0o755)
    (directory / "private-key.pem").chmod(0o644)
    return directory


@pytest.fixture
def started(image: str, key_dir: Path) -> Iterator[callable]:
    names: list[str] = []

    def start(role: str) -> tuple[str, int]:
        command, port, _ = ROLES[role]
        name = f"sandbox-image-test-{role}-{os.getpid()}"
        # The port variables the chart sets (SANDBOX_PORT / SANDBOX_METRICS_PORT).
        port_env = "SANDBOX_PORT" if command[0] == "sandbox-serve" else "SANDBOX_METRICS_PORT"
        env = [f"--env={k}={v}" for k, v in {**UNREACHABLE, port_env: str(port)}.items()]
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(
            [
                "docker",
                "run",
                "-d",
                "--name",
                name,
                "--read-only",
                "--tmpfs",
                "/tmp",  # noqa: S108 - the container's own tmpfs
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges",
                "-v",
                f"{key_dir}:/keys:ro",
                "-p",
                f"127.0.0.1::{port}",
                *env,
                image,
                *command,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        names.append(name)
        mapped = subprocess.run(
            ["docker", "port", name, str(port)], capture_output=True, text=True, check=True
        )
        return name, int(mapped.stdout.split()[0].rsplit(":", 1)[1])

    yield start
    for name in names:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def wait_for_healthz(name: str, port: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        state = json.loads(
            subprocess.run(
                ["docker", "inspect", name], capture_output=True, text=True, check=True
            ).stdout
        )[0]["State"]
        if not state["Running"]:
            logs = subprocess.run(
                ["docker", "logs", name], capture_output=True, text=True, check=False
            )
            pytest.fail(
                f"{name} exited with {state['ExitCode']}:\n{(logs.stdout + logs.stderr)[-3000:]}"
            )
        time.sleep(1)
    logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
    pytest.fail(
        f"{name}: /healthz did not answer in {seconds}s:\n{(logs.stdout + logs.stderr)[-3000:]}"
    )


@pytest.mark.timeout(900)
@pytest.mark.parametrize("role", sorted(ROLES))
def test_role_starts_and_answers_healthz_as_non_root(started, role: str) -> None:
    module = ROLES[role][2]
    if not (ROOT / module).exists():
        pytest.skip(f"{module} is not written yet")
    name, port = started(role)
    wait_for_healthz(name, port)
    uid = subprocess.run(
        ["docker", "exec", name, "id", "-u"], capture_output=True, text=True, check=True
    )
    assert uid.stdout.strip() == UID
    top = subprocess.run(
        ["docker", "top", name, "-o", "pid,user,args"], capture_output=True, text=True, check=True
    )
    assert " root " not in top.stdout


@pytest.mark.timeout(600)
def test_sigterm_stops_the_server_gracefully(started) -> None:
    name, port = started("user")
    wait_for_healthz(name, port)
    began = time.monotonic()
    subprocess.run(["docker", "stop", "-t", "30", name], capture_output=True, check=True)
    took = time.monotonic() - began
    state = json.loads(
        subprocess.run(
            ["docker", "inspect", name], capture_output=True, text=True, check=True
        ).stdout
    )[0]["State"]
    # SIGTERM reached the server (PID 1, exec form) and it drained well before the grace period.
    assert took < 25, f"took {took:.1f}s"
    assert state["ExitCode"] == 0, state


# --- the Locust image (docker/Dockerfile.loadtest) ---------------------------


@pytest.fixture(scope="module")
def loadtest_image() -> str:
    if not docker_available():
        if os.environ.get("SANDBOX_REQUIRE_DOCKER") == "1":
            pytest.fail("SANDBOX_REQUIRE_DOCKER=1 but no Docker engine answers")
        pytest.skip("no Docker engine (set SANDBOX_REQUIRE_DOCKER=1 to make this a failure)")
    mk = (ROOT / "deploy/deploy.mk").read_text()
    repository = re.search(r"^LOADTEST_IMAGE_REPOSITORY \?= (\S+)", mk, re.M).group(1)
    tag = yaml.safe_load((ROOT / "deploy/helm/sandbox/Chart.yaml").read_text())["appVersion"]
    ref = f"{repository}:{tag}"
    env = dict(os.environ, IMAGE="", LOADTEST_IMAGE=ref)
    base_file = ROOT / ".tools" / "python-image"
    if "PYTHON_IMAGE" not in env and base_file.exists():
        env["PYTHON_IMAGE"] = base_file.read_text().strip()
    result = subprocess.run(
        ["bash", str(ROOT / "deploy/scripts/images.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return ref


def locked_version(package: str) -> str:
    lock = (ROOT / "requirements.lock").read_text()
    return re.search(rf"^{package}==(\S+)$", lock, re.M).group(1)


# The restrictions of the chart's pods, as docker options.
RESTRICTED = [
    "--read-only",
    "--tmpfs",
    "/tmp",  # noqa: S108 - the container's own tmpfs (the pod's emptyDir)
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
]


@pytest.mark.timeout(1800)
def test_loadtest_image_is_small_and_non_root(loadtest_image: str) -> None:
    info = inspect(loadtest_image)
    assert info["Size"] < MAX_IMAGE_BYTES, f"{info['Size'] / 1e6:.0f} MB"
    config = info["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert not config.get("Entrypoint")
    assert config["Cmd"][0] == "locust"
    result = subprocess.run(
        ["docker", "run", "--rm", *RESTRICTED, loadtest_image, "sh", "-c",
         "id -u; locust --version; command -v pip gcc cc || true; ls /app/loadtests"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == UID
    assert lines[1].startswith(f"locust {locked_version('locust')} "), lines[1]
    assert "/" not in "\n".join(lines[2:]), "pip or a compiler in the image"
    assert {"locustfile.py", "locust.conf", "slo.yaml", "users"} <= set(lines[2:])
    assert "results" not in lines[2:]
    assert "bench" not in lines[2:]


def chart_container(docs: list[dict], component: str) -> dict:
    (doc,) = [
        d
        for d in docs
        if d["kind"] == "Deployment"
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return container


def docker_env(container: dict) -> list[str]:
    """The container's environment; values from Secrets get stand-ins."""
    stand_ins = {"SANDBOX_ADMIN_EMAIL": "admin@sandbox.example.com"}
    return [
        f"--env={e['name']}={e.get('value', stand_ins.get(e['name'], 'not-a-secret'))}"
        for e in container.get("env", [])
    ]


def published(name: str, port: int) -> int:
    mapped = subprocess.run(
        ["docker", "port", name, str(port)], capture_output=True, text=True, check=True
    )
    return int(mapped.stdout.split()[0].rsplit(":", 1)[1])


def wait_until(check: callable, seconds: float, what: str, logs_of: list[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    logs = [
        subprocess.run(["docker", "logs", n], capture_output=True, text=True, check=False)
        for n in logs_of
    ]
    pytest.fail(
        f"{what} within {seconds}s:\n" + "\n".join((r.stdout + r.stderr)[-2000:] for r in logs)
    )


def http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


@pytest.fixture
def locust_network() -> Iterator[tuple[str, list[str]]]:
    network = f"sandbox-locust-test-{os.getpid()}"
    containers: list[str] = []
    subprocess.run(["docker", "network", "create", network], capture_output=True, check=True)
    yield network, containers
    for name in containers:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)


@pytest.mark.timeout(900)
def test_chart_master_and_worker_find_each_other(
    loadtest_image: str, helm: str, locust_network: tuple[str, list[str]]
) -> None:
    """The chart's own commands, environment and probes, run with Docker: the
    worker reaches the master by its Service name, the master's probe path and
    UI answer, the worker's probe holds while it is connected and fails after."""
    import sandbox_chart

    network, names = locust_network
    docs = sandbox_chart.render("loadtest")
    master = chart_container(docs, "locust")
    worker = chart_container(docs, "locust-worker")
    (service,) = [
        d
        for d in docs
        if d["kind"] == "Service"
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == "locust"
    ]
    ports = {p["name"]: p["containerPort"] for p in master["ports"]}
    master_name = f"sandbox-locust-test-master-{os.getpid()}"
    worker_name = f"sandbox-locust-test-worker-{os.getpid()}"
    names += [master_name, worker_name]
    subprocess.run(
        ["docker", "run", "-d", "--name", master_name, "--network", network,
         "--network-alias", service["metadata"]["name"], *RESTRICTED,
         "-p", f"127.0.0.1::{ports['metrics']}", "-p", f"127.0.0.1::{ports['web']}",
         *docker_env(master), loadtest_image, *master["command"]],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    subprocess.run(
        ["docker", "run", "-d", "--name", worker_name, "--network", network, *RESTRICTED,
         *docker_env(worker), loadtest_image, *worker["command"]],
        capture_output=True, text=True, check=True,
    )  # fmt: skip

    probe = master["readinessProbe"]["httpGet"]
    metrics_port = published(master_name, ports[probe["port"]])
    wait_until(
        lambda: http_ok(metrics_port, probe["path"]),
        60,
        "the master's probe did not pass",
        [master_name],
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        assert "locust_users" in response.read().decode()

    worker_probe = worker["readinessProbe"]["exec"]["command"]

    def worker_connected() -> bool:
        return (
            subprocess.run(
                ["docker", "exec", worker_name, *worker_probe], capture_output=True, check=False
            ).returncode
            == 0
        )

    wait_until(worker_connected, 60, "the worker's probe did not pass", [master_name, worker_name])
    web_port = published(master_name, ports["web"])
    with urllib.request.urlopen(
        f"http://127.0.0.1:{web_port}/stats/requests", timeout=5
    ) as response:
        stats = json.loads(response.read())
    assert stats["worker_count"] == 1, stats
    assert stats["state"] == "ready", stats
    for name in (master_name, worker_name):
        top = subprocess.run(
            ["docker", "top", name, "-o", "pid,user,args"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert " root " not in top.stdout, top.stdout

    # without its master the worker is no longer ready (and, after a minute, not live)
    subprocess.run(["docker", "stop", "-t", "10", master_name], capture_output=True, check=True)
    wait_until(
        lambda: not worker_connected(),
        30,
        "the worker's probe still passed without a master",
        [worker_name],
    )
