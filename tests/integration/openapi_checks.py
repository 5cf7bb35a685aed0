"""A schemathesis check of our own, loaded by the fuzz test (SCHEMATHESIS_HOOKS):
no error body carries a stack trace, SQL, a password hash, a driver's name or
the address of a datastore behind the service."""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from urllib.parse import urlsplit

import schemathesis

from tests.utils.api import LEAKS

DATASTORES = ("SANDBOX_USER_DATABASE_URL", "SANDBOX_CATALOG_DATABASE_URL", "SANDBOX_REDIS_URL",
              "SANDBOX_BROKER_URL", "SANDBOX_MONGO_URL")  # fmt: skip
ADDRESSES = {
    urlsplit(os.environ[name]).netloc.rsplit("@", 1)[-1]
    for name in DATASTORES
    if name in os.environ
}


# How many error bodies it read, written at exit for the test to see that it ran.
_checked = [0]
if "SANDBOX_FUZZ_CHECKED" in os.environ:
    atexit.register(lambda: Path(os.environ["SANDBOX_FUZZ_CHECKED"]).write_text(str(_checked[0])))


@schemathesis.check
def no_internals_in_errors(ctx: object, response: schemathesis.Response, case: object) -> None:
    if response.status_code < 400:
        return
    _checked[0] += 1
    text = response.text.lower()
    for leak in (*LEAKS, *ADDRESSES):
        if leak in text:
            raise AssertionError(f"the error body gives away {leak!r}: {response.text[:500]}")
