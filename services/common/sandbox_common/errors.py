"""The contract's error body, ``{"detail": ..., "request_id": ...}``, for every
error a service answers. Domain errors subclass :class:`ServiceError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox_common.context import current_request_id
from sandbox_common.responses import JSONResponse


class ServiceError(Exception):
    """A domain error with the HTTP answer it maps to."""

    status_code = 400
    detail: str | list[dict[str, object]] = "Bad request"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail or self.detail)
        if detail is not None:
            self.detail = detail
        self.headers = dict(headers or {})


class NotFound(ServiceError):
    status_code = 404
    detail = "Not found"


class Conflict(ServiceError):
    status_code = 409
    detail = "Conflict"


class InvalidField(ServiceError):
    """A 422 for a rule no schema can check (an unknown category, say), shaped
    like FastAPI's own list of field errors."""

    status_code = 422

    def __init__(self, *loc: str | int, msg: str) -> None:
        super().__init__(msg)
        self.detail = [{"type": "value_error", "loc": list(loc), "msg": msg}]


class Unauthorized(ServiceError):
    status_code = 401
    detail = "Not authenticated"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ServiceError):
    status_code = 403
    detail = "Not allowed"


class TooManyRequests(ServiceError):
    status_code = 429
    detail = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


def error_response(
    status_code: int, detail: Any, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"detail": detail, "request_id": current_request_id()}
    return JSONResponse(body, status_code=status_code, headers=dict(headers or {}))


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # FastAPI's list, minus `input` (it may echo a password) and `url`.
    detail = []
    for err in exc.errors():
        item = {k: v for k, v in err.items() if k in ("type", "loc", "msg")}
        if "ctx" in err:
            item["ctx"] = {k: str(v) for k, v in err["ctx"].items()}
        detail.append(item)
    return detail


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return error_response(exc.status_code, exc.detail, exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, exc.detail, exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, _validation_detail(exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
