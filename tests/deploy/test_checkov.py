"""checkov over the rendered chart: no failed check. Checks that do not apply
are skipped in deploy/checkov.yaml, each with its reason."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

CONFIG = ROOT / "deploy" / "checkov.yaml"


def test_every_skip_has_a_reason() -> None:
    text = CONFIG.read_text()
    for match in re.finditer(r"^  - (CKV_\w+)", text, re.M):
        before = text[: match.start()].rstrip().splitlines()
        assert before, f"{match.group(1)} is skipped without a reason"
        assert before[-1].lstrip().startswith("#"), f"{match.group(1)} is skipped without a reason"


@pytest.mark.parametrize("profile", ["kind", "lite", "loadtest"])
def test_checkov_passes(
    rendered_text: dict[str, str], tool_python: Path, tmp_path: Path, profile: str
) -> None:
    manifest = tmp_path / f"sandbox-{profile}.yaml"
    manifest.write_text(rendered_text[profile])
    result = subprocess.run(
        [
            str(tool_python.parent / "checkov"),
            "--config-file",
            str(CONFIG),
            "-f",
            str(manifest),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = [
        (c["check_id"], c["check_name"], c["resource"]) for c in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(map(str, failed))
    assert report["summary"]["passed"] > 500
