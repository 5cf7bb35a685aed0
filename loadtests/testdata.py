"""Test data the run prepares for itself, so it works against a fresh stack.

Runs once per test, on the master or the local runner (never on a worker),
before any user starts: wait until the three services answer, make sure the
catalog holds enough products to browse (creating categories and products as
the admin when it does not), and register the pool of shopper accounts (409
means the account exists and is simply used).

These requests go through a plain HTTP client, so they never appear in the
run's statistics. Nothing here sends a password that could be wrong more than
once: a rejected admin login stops the preparation at once, and pool accounts
always use the password they were registered with.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import gevent.pool
import requests
from targets import Credentials, Targets, pool_account

logger = logging.getLogger(__name__)

TIMEOUT = 10.0

CATEGORIES = {
    "books": "Books",
    "electronics": "Electronics",
    "home": "Home & Kitchen",
    "garden": "Garden",
    "sports": "Sports & Outdoors",
    "toys": "Toys & Games",
}
ADJECTIVES = [
    "Classic",
    "Compact",
    "Deluxe",
    "Handmade",
    "Lightweight",
    "Rugged",
    "Smart",
    "Vintage",
]
NOUNS = {
    "books": ["Novel", "Cookbook", "Atlas", "Field Guide"],
    "electronics": ["Headphones", "Charger", "Keyboard", "Speaker"],
    "home": ["Kettle", "Lamp", "Blanket", "Teapot"],
    "garden": ["Trowel", "Planter", "Hose", "Bird Feeder"],
    "sports": ["Backpack", "Water Bottle", "Yoga Mat", "Tent"],
    "toys": ["Puzzle", "Kite", "Board Game", "Robot Kit"],
}
# Words that appear in product names, for the search journey.
SEARCH_TERMS = sorted(
    {word.lower() for word in ADJECTIVES}
    | {n.split()[-1].lower() for v in NOUNS.values() for n in v}
)


class PreparationError(RuntimeError):
    """The run cannot start: the target is down or refuses the test data."""


@dataclass(frozen=True)
class Preparation:
    products_before: int
    products_created: int
    accounts_registered: int
    accounts_existing: int


def seed_product(index: int) -> dict[str, Any]:
    """Deterministic product number ``index``: re-running creates nothing twice (same SKU)."""
    rng = random.Random(index)
    slug = sorted(CATEGORIES)[index % len(CATEGORIES)]
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS[slug])}"
    price = Decimal(rng.randrange(199, 49999)) / 100
    return {
        "sku": f"LT-SEED-{index:04d}",
        "name": f"{name} {index:04d}",
        "description": f"{name} from the load-test catalog.",
        "price": f"{price:.2f}",
        "currency": "USD",
        "category": slug,
        "stock": rng.randrange(0, 500),
    }


def _fail(what: str, response: requests.Response) -> PreparationError:
    body = response.text[:300].replace("\n", " ")
    return PreparationError(f"{what}: HTTP {response.status_code} {body}")


def wait_until_ready(http: requests.Session, targets: Targets, timeout: float) -> None:
    """Public, dependency-backed reads of each service (these also pass through a gateway)."""
    probes = {
        "user": f"{targets.user}/.well-known/jwks.json",
        "catalog": f"{targets.catalog}/api/v1/categories",
        "activity": f"{targets.activity}/api/v1/activity/trending?limit=1",
    }
    deadline = time.monotonic() + timeout
    pending = dict(probes)
    last_problem = ""
    while pending:
        for service, url in list(pending.items()):
            try:
                response = http.get(url, timeout=TIMEOUT)
            except requests.RequestException as error:
                last_problem = f"{service} at {url}: {error.__class__.__name__}"
                continue
            if response.status_code == 200:
                del pending[service]
            else:
                last_problem = f"{service} at {url}: HTTP {response.status_code}"
        if pending and time.monotonic() > deadline:
            raise PreparationError(
                f"not ready after {timeout:.0f} s ({last_problem}); is the stack up? "
                "(make local-status, or TARGET=cluster for the kind gateway)"
            )
        if pending:
            time.sleep(1)


def login(http: requests.Session, targets: Targets, account: Credentials) -> dict[str, Any]:
    """One OAuth2 password-form login; never retried, so it cannot feed the throttle."""
    response = http.post(
        f"{targets.user}/api/v1/auth/token",
        data={"username": account.email, "password": account.password},
        timeout=TIMEOUT,
    )
    if response.status_code != 200:
        raise _fail(f"login of {account.email} rejected", response)
    return response.json()


def count_products(http: requests.Session, targets: Targets, wanted: int) -> int:
    """How many products exist, counting pages only until ``wanted`` is reached."""
    seen, cursor = 0, None
    while seen < wanted:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        response = http.get(f"{targets.catalog}/api/v1/products", params=params, timeout=TIMEOUT)
        if response.status_code != 200:
            raise _fail("GET /api/v1/products", response)
        page = response.json()
        seen += len(page.get("items") or [])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return seen


def ensure_catalog(
    http: requests.Session, targets: Targets, admin: Credentials | None, min_products: int
) -> tuple[int, int]:
    """Returns (products found, products created)."""
    found = count_products(http, targets, min_products)
    if found >= min_products:
        return found, 0
    if admin is None:
        raise PreparationError(
            f"the catalog holds {found} products (< {min_products}) and no admin credentials "
            "are known to create more: set SANDBOX_ADMIN_EMAIL and SANDBOX_ADMIN_PASSWORD "
            "(or run the local stack, which writes .local/credentials.env)"
        )
    token = login(http, targets, admin)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    response = http.get(f"{targets.catalog}/api/v1/categories", timeout=TIMEOUT)
    if response.status_code != 200:
        raise _fail("GET /api/v1/categories", response)
    existing = {item.get("slug") for item in response.json().get("items") or []}
    for slug, name in CATEGORIES.items():
        if slug in existing:
            continue
        response = http.post(
            f"{targets.catalog}/api/v1/categories",
            json={"slug": slug, "name": name},
            headers=auth,
            timeout=TIMEOUT,
        )
        if response.status_code not in (201, 409):
            raise _fail(f"creating category {slug}", response)

    created, index = 0, 0
    # SKUs of earlier runs answer 409; keep going until enough exist, within reason.
    while found + created < min_products and index < min_products * 10:
        index += 1
        response = http.post(
            f"{targets.catalog}/api/v1/products",
            json=seed_product(index),
            headers=auth,
            timeout=TIMEOUT,
        )
        if response.status_code == 201:
            created += 1
        elif response.status_code != 409:
            raise _fail(f"creating product LT-SEED-{index:04d}", response)
    return found, created


def ensure_accounts(
    targets: Targets, pool_size: int, password_base: str | None, concurrency: int = 4
) -> tuple[int, int]:
    """Register the pool; returns (registered now, already there)."""
    outcome = {"registered": 0, "existing": 0}
    errors: list[str] = []

    def register(index: int) -> None:
        account = pool_account(index, password_base)
        body = {
            "email": account.email,
            "password": account.password,
            "display_name": f"Load Test {index:04d}",
        }
        try:
            response = requests.post(
                f"{targets.user}/api/v1/auth/register", json=body, timeout=TIMEOUT
            )
        except requests.RequestException as error:
            errors.append(f"{account.email}: {error.__class__.__name__}")
            return
        if response.status_code == 201:
            outcome["registered"] += 1
        elif response.status_code == 409:
            outcome["existing"] += 1
        else:
            errors.append(f"{account.email}: HTTP {response.status_code} {response.text[:200]}")

    # Registration hashes with argon2id: a few at a time keeps the user service responsive.
    pool = gevent.pool.Pool(concurrency)
    for index in range(pool_size):
        pool.spawn(register, index)
    pool.join()
    if errors:
        raise PreparationError(f"registering the account pool failed: {'; '.join(errors[:3])}")
    return outcome["registered"], outcome["existing"]


def prepare(
    targets: Targets,
    admin: Credentials | None,
    *,
    min_products: int,
    pool_size: int,
    password_base: str | None = None,
    ready_timeout: float = 30.0,
) -> Preparation:
    with requests.Session() as http:
        wait_until_ready(http, targets, ready_timeout)
        found, created = ensure_catalog(http, targets, admin, min_products)
    registered, existing = ensure_accounts(targets, pool_size, password_base)
    return Preparation(found, created, registered, existing)
