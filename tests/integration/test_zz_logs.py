"""The logs after a full flow: one request id followed through user,
catalog, activity and the worker, and no secret in any line. (Named to run
after the other integration tests, so their lines are in the files too.)"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from tests.utils.api import Account, eventually, login, register, unique_email
from tests.utils.catalog import create_product
from tests.utils.stack import ROOT

LOGS = ROOT / ".local" / "logs"
PROCESSES = ("user", "catalog", "activity", "worker")


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def test_one_request_id_through_every_service_and_no_secrets(
    user_api: httpx.Client, catalog_api: httpx.Client, activity_api: httpx.Client,
    admin: Account,
) -> None:  # fmt: skip
    trace = f"journey-{uuid.uuid4().hex}"
    headers = {"X-Request-ID": trace}
    email, password = unique_email("logs"), f"pw-{uuid.uuid4().hex}"
    assert register(user_api, email=email, password=password, **headers).status_code == 201
    tokens = login(user_api, email, password).json()
    auth = {**headers, "Authorization": f"Bearer {tokens['access_token']}"}
    product = create_product(catalog_api, admin)
    assert catalog_api.get(f"/api/v1/products/{product['id']}", headers=auth).status_code == 200
    assert (
        catalog_api.post(f"/api/v1/products/{product['id']}/like", headers=auth).status_code == 204
    )
    # Activity passes the id on to the catalog too, when it has names to fetch.
    assert activity_api.get("/api/v1/activity/trending", headers=headers).status_code == 200
    rotated = user_api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]},
                            headers=headers).json()  # fmt: skip
    user_api.post("/api/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]},
                  headers=headers)  # fmt: skip

    def every_process_logged_it() -> bool:
        return all(
            any(trace in line for line in _lines(LOGS / f"{name}.log")) for name in PROCESSES
        )

    eventually(every_process_logged_it, timeout=20, what=f"{trace} in {', '.join(PROCESSES)}")
    for name in PROCESSES:
        for line in _lines(LOGS / f"{name}.log"):
            if trace in line:
                assert json.loads(line)["request_id"] == trace  # a field, not text in a message

    secrets = [password, tokens["access_token"], tokens["refresh_token"],
               rotated["access_token"], rotated["refresh_token"], admin.password,
               admin.access_token]  # fmt: skip
    for path in sorted(LOGS.glob("*.log")):
        text = path.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"a secret is in {path.name}"
        assert "Bearer ey" not in text, f"an Authorization header is in {path.name}"
        assert "$argon2" not in text, f"a password hash is in {path.name}"
