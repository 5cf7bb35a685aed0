"""How a failed request of the load test is reported: one line per kind of
failure in Locust's table, without locust itself (the tests import it)."""

from __future__ import annotations

from typing import Any


def _wrapped(error: BaseException) -> BaseException | None:
    """The exception ``error`` wraps, if any: geventhttpclient's
    ``RetriesExceeded`` keeps it as ``original``, requests and urllib3 among
    their arguments, Python as the cause."""
    original = getattr(error, "original", None)
    if isinstance(original, BaseException):
        return original
    return error.__cause__ or next(
        (arg for arg in error.args if isinstance(arg, BaseException)), None
    )


def _error_names(error: BaseException) -> str:
    """The kind of a failed exchange: the exception's type and, where it wraps
    another, the innermost one's. Types only, so failures of one kind group
    into one line of Locust's report."""
    inner, seen = error, {id(error)}
    while True:
        wrapped = _wrapped(inner)
        if wrapped is None or id(wrapped) in seen:
            break
        inner = wrapped
        seen.add(id(inner))
    outer = type(error).__name__
    return outer if inner is error else f"{outer} ({type(inner).__name__})"


def describe(resp: Any) -> str:
    """A failure message: the status, and for a client error the contract's
    detail; with no answer at all (status 0), what went wrong instead."""
    message = f"HTTP {resp.status_code}"
    error = getattr(resp, "error", None)
    if not resp.status_code and isinstance(error, BaseException):
        return f"{message}: {_error_names(error)}"
    if 400 <= (resp.status_code or 0) < 500:
        try:
            detail = resp.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        if isinstance(detail, list):  # 422: FastAPI's field errors
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
                for e in detail
                if isinstance(e, dict)
            )
        if detail:
            message += f": {str(detail)[:120]}"
    return message
