"""``sandbox-serve`` reads a service's Settings before it sets
prometheus-client's multiprocess directory and empties it: reading them
must not import prometheus-client, or the metrics created at that import
would write to files the emptying deletes (and pick the wrong mode)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox_common.topology import SERVICES


@pytest.mark.parametrize(
    "module",
    ["sandbox_common.serve", *(f"{service}_service.config" for service in sorted(SERVICES))],
)
def test_reading_a_services_settings_imports_no_metrics(module: str) -> None:
    code = (
        f"import sys; import {module}; "
        "print(sorted(m for m in sys.modules if m.startswith(('prometheus_client', "
        "'sandbox_common.metrics'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    assert loaded == "[]", f"{module} imports {loaded}"
