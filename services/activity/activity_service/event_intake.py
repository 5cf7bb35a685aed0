"""``POST /api/v1/activity/events`` answered before FastAPI's routing.

Ingestion is the activity service's busiest write, and its own work is a
validation and a hand-over to the event publisher; FastAPI's routing,
dependency solving and exception layers cost several times that
(docs/performance.md, event ingestion). This layer answers a well-formed
event itself, through the route's own function (:func:`service.accept_event`),
and labels it with the route (``router.record_event``).

It takes only a POST whose body is ``application/json`` that parses and
validates as the route's body (:class:`EventCreate`), with an
``Idempotency-Key``, if any, of an allowed length. Anything else, the body
included, goes on to FastAPI, so every 4xx of a malformed request comes from
the one route the OpenAPI document describes.
"""

from __future__ import annotations

import json

from starlette.responses import JSONResponse
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activity_service import service
from activity_service.router import IDEMPOTENCY_KEY_LENGTH, router
from activity_service.schemas import EventCreate
from sandbox_common.auth import principal_from_header
from sandbox_common.before_routing import api_route, first_headers
from sandbox_common.errors import ServiceError, Unauthorized, service_error_response

PATH = "/api/v1/activity/events"


class EventIntake:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route = api_route(router, PATH, "POST")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or get_route_path(scope) != PATH:
            await self.app(scope, receive, send)
            return
        messages = await _request_messages(receive)
        replay = _replaying(messages, receive)
        authorization, content_type, key = first_headers(
            scope, b"authorization", b"content-type", b"idempotency-key"
        )
        body = _event(messages, content_type, key)
        if body is None:
            await self.app(scope, replay, send)
            return
        scope["route"] = self._route
        state = scope["app"].state
        try:
            principal = await principal_from_header(state.token_verifier, authorization)
            if principal is None:
                raise Unauthorized()
            accepted = await service.accept_event(
                publisher=state.event_publisher, principal=principal, body=body,
                idempotency_key=key,
            )  # fmt: skip
            response = JSONResponse(accepted.model_dump(mode="json"), status_code=202)
        except ServiceError as exc:
            response = service_error_response(exc)
        await response(scope, replay, send)


async def _request_messages(receive: Receive) -> list[Message]:
    """The request's messages up to its body's end (or a disconnect)."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` as if nothing had been read: the read messages first."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _event(
    messages: list[Message], content_type: str | None, key: str | None
) -> EventCreate | None:
    """The body as the route would take it; None for anything it would refuse."""
    if content_type != "application/json" or messages[-1]["type"] != "http.request":
        return None
    if key is not None and len(key) not in IDEMPOTENCY_KEY_LENGTH:
        return None
    try:
        # As FastAPI reads a JSON body: json.loads, then the model on the result.
        return EventCreate.model_validate(
            json.loads(b"".join(m.get("body", b"") for m in messages))
        )
    except Exception:  # a body too deep to parse (RecursionError) included
        return None  # FastAPI reads it again and answers (422, or 400 for what it cannot parse)
