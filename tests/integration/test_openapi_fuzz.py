"""The published OpenAPI documents are exact: schemathesis, with every check
and every phase (see schemathesis.toml), finds nothing in any service.

The fuzzer registers, promotes, demotes, deletes and rewrites whatever it can
reach, so it runs against services of its own: the same programs on the local
stack's servers, with PostgreSQL databases, Redis databases (cache, login
throttle, broker) and a MongoDB database of their own, all thrown away
afterwards. Nothing the stack's other tests rely on is touched.

``SANDBOX_FUZZ_SEED`` sets the seed (``make fuzz SEED=...``; a fixed one by
default, so a finding reproduces) and ``SANDBOX_FUZZ_EXAMPLES`` the examples
per operation (schemathesis's default, 100).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from sandbox_common.topology import SERVICES
from tests.utils.api import admin_account, eventually
from tests.utils.databases import own_datastores
from tests.utils.stack import ROOT, free_port, stack_module

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("SANDBOX_FUZZ_SEED", "20261130"))
EXAMPLES = int(os.environ.get("SANDBOX_FUZZ_EXAMPLES", "100"))
# Cache and broker: the stack itself uses Redis databases 0 (cache, throttle) and 1 (broker).
REDIS_DBS = (2, 3)
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def fuzzed(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The three services, started for the fuzzer; their base URLs by name."""
    logs = tmp_path_factory.mktemp("fuzzed")
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    with ExitStack() as stack:
        common = {
            **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
            **stack.enter_context(own_datastores(env, "fuzz", redis_dbs=REDIS_DBS)),
            **{f"SANDBOX_{name.upper()}_URL": url for name, url in urls.items()},
        }
        for name in SERVICES:
            out = stack.enter_context((logs / f"{name}.log").open("ab"))
            process = subprocess.Popen(
                [str(BIN / "sandbox-serve"), name],
                env={**common, "SANDBOX_PORT": str(ports[name])},
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            stack.callback(_stop, process)
        for name, url in urls.items():
            eventually(lambda url=url: stack_module().http_ok(f"{url}/readyz"), timeout=90,
                       what=f"the fuzzed {name} service ready (logs: {logs})")  # fmt: skip
        yield urls


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def admin_token(fuzzed: dict[str, str], env: dict[str, str]) -> str:
    """The first admin's token on the fuzzed user service, taken before any
    fuzzing: the fuzzer may demote or erase that account on the way."""
    with httpx.Client(base_url=fuzzed["user"], timeout=10) as user:
        return admin_account(user, env["SANDBOX_ADMIN_EMAIL"],
                             env["SANDBOX_ADMIN_PASSWORD"]).access_token  # fmt: skip


def fuzz(url: str, token: str, tmp_path: Path, *selection: str) -> None:
    """schemathesis with every check and phase, and ours (openapi_checks.py),
    failing the test on any finding."""
    command = [
        str(BIN / "schemathesis"), "--config-file", str(ROOT / "schemathesis.toml"), "--no-color",
        "run", f"{url}/openapi.json", "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(EXAMPLES), "--seed", str(SEED),
        "--generation-database", "none", "--header", f"Authorization: Bearer {token}",
        *selection,
    ]  # fmt: skip
    # Its working files (.hypothesis/, .schemathesis/) go to the test's own directory.
    checked = tmp_path / "checked"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SANDBOX_FUZZ_CHECKED": str(checked),
           "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("openapi_checks.py"))}  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=900)  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"seed {SEED}: schemathesis found something\n{report[-20000:]}"
    assert " passed" in report, report[-5000:]
    assert int(checked.read_text()) > 0, "our check saw no error response"


# Catalog and activity first: they verify the token by its signature alone, so
# what the user service's run does to the admin's account cannot affect them.
def test_catalog_spec_is_exact(fuzzed: dict[str, str], admin_token: str, tmp_path: Path) -> None:
    fuzz(fuzzed["catalog"], admin_token, tmp_path)


def test_activity_spec_is_exact(fuzzed: dict[str, str], admin_token: str, tmp_path: Path) -> None:
    fuzz(fuzzed["activity"], admin_token, tmp_path)


def test_user_spec_is_exact(fuzzed: dict[str, str], admin_token: str, tmp_path: Path) -> None:
    # Erasing the account behind the token would leave the rest of the run
    # nothing but 401s, so that one operation is fuzzed last, on its own.
    erase = "DELETE /api/v1/users/me"
    fuzz(fuzzed["user"], admin_token, tmp_path, "--exclude-name", erase)
    fuzz(fuzzed["user"], admin_token, tmp_path, "--include-name", erase)
