"""A datastore pod killed under load: the services recover by themselves and
every event the API accepted is stored."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from tests.utils.api import Account, eventually, new_account
from tests.utils.kube import Cluster


def _post_events(activity: str, account: Account, run: str, stop: threading.Event,
                 accepted: list[str], refused: list[int]) -> None:  # fmt: skip
    with httpx.Client(base_url=activity, timeout=5.0) as client:
        n = 0
        while not stop.is_set():
            n += 1
            object_id = f"{run}-{n}"
            try:
                response = client.post("/api/v1/activity/events", headers=account.headers,
                                       json={"type": "product.viewed", "object_id": object_id})  # fmt: skip
            except httpx.HTTPError:
                refused.append(0)
                continue
            if response.status_code == 202:
                accepted.append(object_id)
            else:
                refused.append(response.status_code)
            time.sleep(0.05)


def test_killing_the_mongo_pod_loses_no_accepted_event(
    cluster: Cluster, user_api: httpx.Client, activity_api: httpx.Client, admin: Account
) -> None:
    account = new_account(user_api)
    run = f"restart-{uuid.uuid4().hex[:8]}"
    accepted: list[str] = []
    refused: list[int] = []
    stop = threading.Event()
    poster = threading.Thread(target=_post_events, daemon=True,
                              args=(str(activity_api.base_url), account, run, stop, accepted, refused))  # fmt: skip
    poster.start()
    try:
        eventually(lambda: len(accepted) >= 20, timeout=30, what="events accepted before the kill")
        (mongo,) = cluster.pods("mongo")
        claim = data_claim(mongo)
        volume = cluster.get("pvc", claim)["spec"]["volumeName"]
        cluster.ns("delete", "pod", mongo["metadata"]["name"], "--grace-period=0", "--force",
                   "--wait=false")  # fmt: skip
        time.sleep(5)
        cluster.wait_ready("mongo", timeout=180)
        # The services recover by themselves: readiness comes back, no restart needed.
        for component in ("activity", "worker"):
            cluster.wait_ready(component, timeout=180)
        # Keep posting a while after they are back.
        time.sleep(10)
    finally:
        stop.set()
        poster.join(timeout=30)
    assert accepted, "no event was accepted"

    last_failure: list[str] = []  # why the feed could not be read, the last time

    def stored() -> set[str] | None:
        found: set[str] = set()
        cursor = None
        path = f"/api/v1/activity/users/{account.id}"
        while True:
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["before"] = cursor
            try:
                page = activity_api.get(path, headers=admin.headers, params=params)
            except httpx.HTTPError as exc:
                last_failure[:] = [repr(exc)]
                return None
            if page.status_code != 200:
                last_failure[:] = [f"{page.status_code} {page.text[:300]}"]
                return None
            body = page.json()
            found |= {e["object_id"] for e in body["items"] if e["object_id"].startswith(run)}
            cursor = body.get("next_before")
            if not cursor:
                return found

    missing: set[str] = set(accepted)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = stored()
        if found is not None:
            missing = set(accepted) - found
            if not missing:
                break
        time.sleep(3)
    assert not missing, (
        f"{len(missing)} of {len(accepted)} accepted events were lost\n"
        + (f"the feed's last failed read: {last_failure[0]}\n" if last_failure else "")
        + worker_log_summary(cluster)
    )
    # A new pod (a StatefulSet's keeps its name, not its uid) on the same claim
    # and volume: the events from before the kill were on that volume.
    (restarted,) = cluster.pods("mongo")
    assert restarted["metadata"]["uid"] != mongo["metadata"]["uid"], "the pod was not replaced"
    assert data_claim(restarted) == claim
    assert cluster.get("pvc", claim)["spec"]["volumeName"] == volume


def worker_log_summary(cluster: Cluster) -> str:
    """What the worker said while the events went missing: lines by level and
    message, and its last warnings and errors (retries, tasks given up)."""
    logs = cluster.ns("logs", f"deploy/{cluster.release}-worker", "-c", "worker",
                      "--since=10m", check=False)  # fmt: skip
    counts: Counter[tuple[str, str]] = Counter()
    notable: list[str] = []
    for line in logs.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        level = str(entry.get("log.level", "?"))
        counts[level, str(entry.get("message", ""))[:60]] += 1
        if level in ("warning", "error", "critical"):
            notable.append(line[:400])
    summary = [f"{n} x {level}: {message}" for (level, message), n in counts.most_common(10)]
    return "worker log, last 10 minutes:\n" + "\n".join(summary + notable[-8:])


def data_claim(pod: dict[str, Any]) -> str:
    """The PersistentVolumeClaim behind a datastore pod's `data` volume."""
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "data"]
    claim: str = volume["persistentVolumeClaim"]["claimName"]
    return claim
