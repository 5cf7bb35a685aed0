"""Every local fault scenario (``make scenario``), in a shortened form, on the
local stack: the report's key facts hold. The expected alerts fire, the
expected panels' queries move, and nothing accepted is lost.

The alerts are evaluated by a Prometheus of the test's own, scraping the
stack every 2 s, with the shipped rules' real expressions; only each
``for:`` is shortened (to FOR_SECONDS), or a fault held for a minute could
never outlast a ten-minute ``for:``. The shipped rules are untouched.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.api import eventually
from tests.utils.stack import ROOT, free_port, stack_module

pytestmark = [pytest.mark.integration, pytest.mark.cross_process, pytest.mark.slow]

sys.path.insert(0, str(ROOT / "loadtests" / "scenarios"))
sys.path.insert(0, str(ROOT / "loadtests"))
from library import SCENARIOS  # noqa: E402

INTERVAL = 2  # seconds: scrape and rule evaluation of the test's Prometheus
FOR_SECONDS = 6
LOCAL = sorted((name for name, s in SCENARIOS.items() if s.local is not None),
               key=lambda name: name != "postgres-slow")  # fmt: skip
# Short, but long enough for rate windows to see the fault: seconds of warm-up,
# hold and recovery.
WARMUP, HOLD, RECOVERY = 15, 30, 15
# The latency alert reads a 5-minute p95: slow requests (fewer, being slow)
# must be over 5 % of that window's, older traffic included. It runs first,
# when the window holds little other traffic.
HOLDS = {"postgres-slow": 90}


def shortened(rules: str) -> str:
    return re.sub(r"^(\s+for:\s*)\S+", rf"\g<1>{FOR_SECONDS}s", rules, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus scraping the stack, with every ``for:`` shortened."""
    stack = stack_module()
    binary = stack.find_binary("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (sudo apt-get install prometheus)")
    home = tmp_path_factory.mktemp("prometheus")
    rules = home / "rules"
    rules.mkdir()
    for path in stack.RULES.glob("*.yml"):
        (rules / path.name).write_text(shortened(path.read_text()))
    config = stack.prometheus_config(home / "prometheus.yml", rules=rules, interval=INTERVAL)
    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
         f"--web.listen-address={url.removeprefix('http://')}"],
        stdout=(home / "prometheus.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        eventually(lambda: stack.http_ok(f"{url}/-/ready"), timeout=60, what="test Prometheus")
        groups = httpx.get(f"{url}/api/v1/rules").json()["data"]["groups"]
        assert groups, "the test Prometheus loaded no rules"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_rules_are_shortened_only_in_for() -> None:
    original = (ROOT / "observability/prometheus/rules/sandbox-alerts.yml").read_text()
    changed = shortened(original)
    assert changed != original
    assert re.sub(r"for: \S+", "", changed) == re.sub(r"for: \S+", "", original)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", LOCAL)
def test_scenario(name: str, prometheus: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "loadtests" / "scenarios" / "run.py"), name,
         "--warmup", str(WARMUP), "--hold", str(HOLDS.get(name, HOLD)), "--recovery", str(RECOVERY),
         "--prometheus", prometheus, "--step", str(INTERVAL), "--results", str(tmp_path),
         "--slo-profile", "off"],
        cwd=ROOT, capture_output=True, text=True, timeout=840, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (results,) = tmp_path.glob(f"*-scenario-{name}")
    facts = json.loads((results / "scenario.json").read_text())
    report = (results / "scenario.md").read_text()
    scenario = SCENARIOS[name]
    missing = set(scenario.alerts) - set(facts["firing"])
    assert not missing, f"expected alerts did not fire: {missing}\n{report}"
    still = {panel for panel, moved in facts["panels_moved"].items() if not moved}
    assert not still, f"panels that did not move: {still}\n{report}"
    if scenario.counts_loss:
        assert facts["accepted"] > 0, report
        assert facts["lost"] == 0, report
    assert facts["log_lines"] > 0
    for heading in ("## Alerts", "## What the dashboards showed", "## What the logs said",
                    "## What users saw", "## What was lost"):  # fmt: skip
        assert heading in report
    assert (results / "report.html").exists()
