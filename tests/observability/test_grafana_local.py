"""`make local-grafana` (scripts/grafana.py): the provisioning it generates,
and the target run for real wherever Grafana is installed (a `grafana`
binary, or the official image already in Docker; nothing is pulled here)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import grafana  # noqa: E402  (scripts/grafana.py)
import stack  # noqa: E402  (scripts/stack.py)

DASHBOARDS = ROOT / "observability" / "grafana" / "dashboards"


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"SANDBOX_ADMIN_EMAIL": "admin@sandbox.local", "SANDBOX_ADMIN_PASSWORD": "pw-test-1"}
    monkeypatch.setattr(stack, "credentials", lambda: values)
    return values


def test_provisioning_points_at_the_local_prometheus_and_our_dashboards(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    prov = grafana.provisioning(tmp_path, "/dashboards/here")
    sources = yaml.safe_load((prov / "datasources" / "sandbox.yaml").read_text())["datasources"]
    by_uid = {source["uid"]: source for source in sources}
    assert set(by_uid) == {"prometheus", "elasticsearch"}  # the uids every panel names
    env = grafana.environment(str(prov))
    # Grafana expands ${VAR} from its environment: the URLs it will use.
    url = by_uid["prometheus"]["url"]
    assert url == "${SANDBOX_PROMETHEUS_URL}"
    assert env["SANDBOX_PROMETHEUS_URL"] == f"http://127.0.0.1:{stack.PROMETHEUS_PORT}"
    assert by_uid["prometheus"]["jsonData"]["timeInterval"] == "${SANDBOX_SCRAPE_INTERVAL}"
    assert env["SANDBOX_SCRAPE_INTERVAL"] == "5s"  # the local scrape interval
    assert "scrape_interval: 5s" in stack.prometheus_config(tmp_path / "p.yml").read_text()
    (provider,) = yaml.safe_load((prov / "dashboards" / "sandbox.yaml").read_text())["providers"]
    assert provider["folder"] == "Sandbox"
    assert provider["folderUid"] == "sandbox"
    assert provider["options"]["path"] == "/dashboards/here"
    assert env["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == credentials["SANDBOX_ADMIN_PASSWORD"]


def _grafana_available() -> bool:
    if shutil.which("grafana") or shutil.which("grafana-server"):
        return True
    docker = grafana._docker()
    return bool(docker and grafana.image_present(docker))


@pytest.mark.integration
def test_make_local_grafana_serves_our_dashboards() -> None:
    if not _grafana_available():
        pytest.skip(f"no Grafana here: {grafana.INSTALL_HINT}")
    assert grafana.up() == 0
    try:
        auth = ("admin", stack.credentials()["SANDBOX_ADMIN_PASSWORD"])
        with httpx.Client(base_url=f"http://127.0.0.1:{grafana.PORT}", auth=auth) as client:
            found = client.get("/api/search", params={"folderUIDs": "sandbox"}).json()
            uids = {json.loads(p.read_text())["uid"] for p in DASHBOARDS.glob("*.json")}
            assert uids <= {item["uid"] for item in found}
            source = client.get("/api/datasources/uid/prometheus").json()
            assert source["url"] == f"http://127.0.0.1:{stack.PROMETHEUS_PORT}"
    finally:
        grafana.down()
