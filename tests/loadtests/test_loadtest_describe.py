"""What a failed request of the load test is reported as."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import requests
from urllib3.exceptions import ProtocolError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
failures = importlib.import_module("failures")


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
