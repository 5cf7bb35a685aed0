"""A newcomer's first requests, one through each service of the stack that
`make local-up` started (run from the checkout, with its venv's Python):
register and log in (user), list products (catalog), post a view and find
it in the feed (activity, through the broker and the worker)."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, "scripts")
from stack import read_env_file  # scripts/stack.py: the one reader of the file

ENV = read_env_file(Path(".local/stack.env"))


def main() -> int:
    user, catalog, activity = (
        httpx.Client(base_url=ENV[f"SANDBOX_{name}_URL"], timeout=30)
        for name in ("USER", "CATALOG", "ACTIVITY")
    )
    email, password = f"newcomer-{uuid.uuid4().hex[:8]}@example.com", "a newcomer's password"
    created = user.post("/api/v1/auth/register",
                        json={"email": email, "password": password, "display_name": "Newcomer"})  # fmt: skip
    assert created.status_code == 201, created.text
    token = user.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    print(f"user: registered and logged in {email}")

    products = catalog.get("/api/v1/products", params={"limit": 5})
    assert products.status_code == 200, products.text
    print(f"catalog: {len(products.json()['items'])} products on the first page")

    object_id = str(uuid.uuid4())
    posted = activity.post("/api/v1/activity/events", headers=bearer,
                           json={"type": "product.viewed", "object_id": object_id})  # fmt: skip
    assert posted.status_code == 202, posted.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        feed = activity.get("/api/v1/activity/me", headers=bearer).json()["items"]
        if any(event["object_id"] == object_id for event in feed):
            print("activity: the view was stored by the worker and is in the feed")
            return 0
        time.sleep(0.5)
    print("activity: the posted view never reached the feed", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
