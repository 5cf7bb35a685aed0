"""What a failed request of the load test is reported as."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from geventhttpclient.useragent import RetriesExceeded, UserAgent
from urllib3.exceptions import ProtocolError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
failures = importlib.import_module("failures")


def _raised_by_geventhttpclient(error: BaseException) -> BaseException:
    """What Locust's FastHttpUser (geventhttpclient, no retries) raises when
    the exchange fails with ``error``."""
    agent = UserAgent(max_retries=0)

    def fail(*_: object, **__: object) -> None:
        raise error

    agent._urlopen = fail  # type: ignore[method-assign]
    with pytest.raises((RetriesExceeded, OSError)) as raised:
        agent.urlopen("http://127.0.0.1:9/x", method="GET")
    return raised.value


@pytest.mark.parametrize(
    ("error", "described"),
    [
        (TimeoutError("timed out"), "HTTP 0: RetriesExceeded (TimeoutError)"),
        (BrokenPipeError(32, "Broken pipe"), "HTTP 0: RetriesExceeded (BrokenPipeError)"),
        (ConnectionResetError(104, "reset"), "HTTP 0: ConnectionResetError"),
    ],
)
def test_what_the_load_tests_client_raises_is_named_to_its_cause(
    error: BaseException, described: str
) -> None:
    resp = SimpleNamespace(status_code=0, error=_raised_by_geventhttpclient(error))
    assert failures.describe(resp) == described


def test_a_request_without_an_answer_says_what_broke() -> None:
    reset = ConnectionResetError(104, "Connection reset by peer")
    error = requests.ConnectionError(ProtocolError("Connection aborted.", reset))
    resp = SimpleNamespace(status_code=0, error=error)
    assert failures.describe(resp) == "HTTP 0: ConnectionError (ConnectionResetError)"


def test_a_timeout_keeps_its_own_name() -> None:
    resp = SimpleNamespace(status_code=0, error=requests.ReadTimeout("read timed out"))
    assert failures.describe(resp) == "HTTP 0: ReadTimeout"


def test_an_answer_is_described_by_its_status_and_detail() -> None:
    answered = SimpleNamespace(status_code=409, error=None,
                               json=lambda: {"detail": "SKU already exists"})  # fmt: skip
    assert failures.describe(answered) == "HTTP 409: SKU already exists"
    assert failures.describe(SimpleNamespace(status_code=503, error=None)) == "HTTP 503"
