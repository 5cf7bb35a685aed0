"""The contract's error body, ``{"detail": ..., "request_id": ...}``, for every
error a service answers. Domain errors subclass :class:`ServiceError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

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
    """A 422 shaped like FastAPI's own list of field errors, for a request
    that cannot be right whatever the data holds (JSON sent to a form route)."""

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


class ErrorBody(BaseModel):
    """The contract's error body, as the OpenAPI documents show it."""

    detail: str | list[dict[str, Any]]
    request_id: str


# What each error status means wherever a route answers it; each route names
# in its `responses=` the ones it can answer, so its OpenAPI operation lists
# every status it can give.
ERROR_MEANINGS: dict[int, str] = {
    400: "The request cannot be read: a body that is not UTF-8 or a form that does not "
    "parse, or a cursor this service did not issue",
    401: "Not authenticated: no valid bearer token, a token whose account is gone, "
    "or a wrong email, password or refresh token",
    403: "Authenticated, but not allowed: the admin role is needed, or the current "
    "password is wrong",
    404: "No such resource",
    409: "The change conflicts with what exists: a duplicate, or a category that does not exist",
    429: "Too many attempts; wait for `Retry-After` seconds",
    503: "A dependency needed to accept the request is down, or the service is too busy to "
    "take it now (then with `Retry-After`); try again",
}


_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for the error statuses a route can answer, with
    the contract's body and the headers those answers always carry. (FastAPI
    adds 422 itself wherever a route takes parameters or a body.)"""
    return {
        code: {"model": ErrorBody, "description": ERROR_MEANINGS[code],
               "headers": _ERROR_HEADERS.get(code, {})}
        for code in codes
    }  # fmt: skip


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


def service_error_response(exc: ServiceError) -> JSONResponse:
    return error_response(exc.status_code, exc.detail, exc.headers)


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return service_error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, exc.detail, headers)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. Starlette's own `Allow`
    names the first matching route's methods only, and a path such as
    /users/me has one route per method."""
    routes = request.app.router.routes

    def served(method: str) -> bool:
        scope = {**request.scope, "method": method}
        return any(route.matches(scope)[0] is Match.FULL for route in routes)

    return [method for method in METHODS if served(method)]


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, _validation_detail(exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
