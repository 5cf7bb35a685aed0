"""Grafana beside the local stack, with the sandbox's data sources and
dashboards, against the local Prometheus.

    python scripts/grafana.py up | down        (make local-grafana; make local-down stops it)

It runs a ``grafana`` binary from PATH when there is one, else the official
image with Docker (host network, so it reaches the local Prometheus and
listens on loopback only), else says what to install. The provisioning is
generated under ``.local/grafana/`` from observability/grafana/provisioning/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack

PORT = int(os.environ.get("SANDBOX_LOCAL_GRAFANA_PORT", "3000"))
# The official image, used only when no grafana binary is installed.
IMAGE = os.environ.get("SANDBOX_LOCAL_GRAFANA_IMAGE", "grafana/grafana:12.0.0")
CONTAINER = "sandbox-grafana"
HOME = stack.LOCAL / "grafana"
ROOT_PROVISIONING = stack.ROOT / "observability" / "grafana" / "provisioning"
DASHBOARDS = stack.ROOT / "observability" / "grafana" / "dashboards"
CONTAINER_DASHBOARDS = "/var/lib/grafana/dashboards/sandbox"
INSTALL_HINT = (
    "Grafana is not installed: install it (Debian/Ubuntu: Grafana's APT repository, "
    "then `sudo apt-get install grafana`; macOS: `brew install grafana`) or Docker "
    f"(then `docker pull {IMAGE}`), and run make local-grafana again"
)


def provisioning(destination: Path, dashboards_path: str) -> Path:
    """Our data source file as it is (Grafana expands its variables from the
    environment) and our dashboard provider pointed at `dashboards_path`."""
    (destination / "datasources").mkdir(parents=True, exist_ok=True)
    (destination / "dashboards").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        ROOT_PROVISIONING / "datasources" / "sandbox.yaml",
        destination / "datasources" / "sandbox.yaml",
    )
    provider = yaml.safe_load((ROOT_PROVISIONING / "dashboards" / "sandbox.yaml").read_text())
    for entry in provider["providers"]:
        entry["options"]["path"] = dashboards_path
    (destination / "dashboards" / "sandbox.yaml").write_text(yaml.safe_dump(provider))
    return destination


def environment(provisioning_path: str) -> dict[str, str]:
    """Grafana's settings (GF_*) and what our data source file reads."""
    password = stack.credentials()["SANDBOX_ADMIN_PASSWORD"]
    return {
        "GF_PATHS_PROVISIONING": provisioning_path,
        "GF_SERVER_HTTP_ADDR": "127.0.0.1",
        "GF_SERVER_HTTP_PORT": str(PORT),
        "GF_SECURITY_ADMIN_USER": "admin",
        "GF_SECURITY_ADMIN_PASSWORD": password,
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "SANDBOX_PROMETHEUS_URL": f"http://127.0.0.1:{stack.PROMETHEUS_PORT}",
        "SANDBOX_SCRAPE_INTERVAL": "5s",
        # No Elasticsearch runs locally: the log panels stay empty.
        "SANDBOX_ELASTICSEARCH_URL": "http://127.0.0.1:9200",
    }


def _docker() -> str | None:
    """Docker, when its daemon answers."""
    docker = shutil.which("docker")
    if docker and _run(docker, "info").returncode == 0:
        return docker
    return None


def _run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, capture_output=True, check=False)  # noqa: S603


def image_present(docker: str) -> bool:
    return _run(docker, "image", "inspect", IMAGE).returncode == 0


def _home() -> Path | None:
    """Grafana's home (public/, conf/) where the packages install it."""
    candidates = ("/usr/share/grafana", "/opt/homebrew/share/grafana", "/usr/local/share/grafana")
    return next((Path(p) for p in candidates if Path(p).is_dir()), None)


def pulled(docker: str) -> bool:
    """Pulls the image, unless SANDBOX_PULL=0 says no registry is to be asked."""
    if os.environ.get("SANDBOX_PULL", "1") == "0":
        return False
    return _run(docker, "pull", "-q", IMAGE).returncode == 0


def up() -> int:
    binary = shutil.which("grafana") or shutil.which("grafana-server")
    docker = _docker()
    stack.LOGS.mkdir(parents=True, exist_ok=True)
    if binary:
        prov = provisioning(HOME / "provisioning", str(DASHBOARDS))
        env = {**os.environ, **environment(str(prov)), "GF_PATHS_DATA": str(HOME / "data"),
               "GF_PATHS_LOGS": str(stack.LOGS)}  # fmt: skip
        argv = [binary, "server"] if Path(binary).name == "grafana" else [binary]
        home = _home()
        if home:
            argv += ["--homepath", str(home)]
        stack.spawn("grafana", argv, env)
    elif docker and (image_present(docker) or pulled(docker)):
        prov = provisioning(HOME / "provisioning", CONTAINER_DASHBOARDS)
        _run(docker, "rm", "-f", CONTAINER)
        env_args = [arg for k, v in environment("/etc/grafana/provisioning").items()
                    for arg in ("-e", f"{k}={v}")]  # fmt: skip
        started = _run(docker, "run", "-d", "--name", CONTAINER, "--network", "host", *env_args,
                       "-v", f"{prov}:/etc/grafana/provisioning:ro",
                       "-v", f"{DASHBOARDS}:{CONTAINER_DASHBOARDS}:ro", IMAGE)  # fmt: skip
        if started.returncode != 0:
            stack.fail(f"docker run {IMAGE} failed: {started.stderr.decode(errors='replace')}")
    else:
        print(f"[grafana] {INSTALL_HINT}", file=sys.stderr)
        return 1
    url = f"http://127.0.0.1:{PORT}"
    stack.wait_until("grafana", lambda: stack.http_ok(f"{url}/api/health"), 120)
    print(f"Grafana: {url}  (admin / {stack.credentials()['SANDBOX_ADMIN_PASSWORD']}), "
          "dashboards in the Sandbox folder; stop: make local-down")  # fmt: skip
    return 0


def down() -> None:
    stack.stop_all(("grafana",))
    docker = shutil.which("docker")
    if docker:
        _run(docker, "rm", "-f", CONTAINER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down"])
    args = parser.parse_args()
    if args.command == "up":
        sys.exit(up())
    down()


if __name__ == "__main__":
    main()
