"""HTTP routes of the user service; logic lives in :mod:`user_service.service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response, status

from sandbox_common.auth import AdminPrincipal
from sandbox_common.errors import InvalidField, error_responses
from sandbox_common.pagination import Cursor
from user_service import service
from user_service.dependencies import (
    CeleryDep,
    CurrentUser,
    HashingDep,
    PolicyDep,
    SessionDep,
    ThrottleDep,
)
from user_service.schemas import (
    RefreshRequest,
    RegisterRequest,
    TokenForm,
    TokenPair,
    UpdateMeRequest,
    UpdateRoleRequest,
    UserPage,
    UserPublic,
)

auth = APIRouter(prefix="/api/v1/auth", tags=["auth"])
users = APIRouter(prefix="/api/v1/users", tags=["users"])
jwks = APIRouter(tags=["auth"])


@auth.post("/register", status_code=status.HTTP_201_CREATED,
           responses=error_responses(400, 409, 503))  # fmt: skip
async def register(
    body: RegisterRequest, session: SessionDep, celery: CeleryDep, hashing: HashingDep
) -> UserPublic:
    return await service.register(
        session=session,
        celery=celery,
        hashing=hashing,
        email=str(body.email),
        password=body.password,
        display_name=body.display_name,
    )


def _form_expected(request: Request) -> None:
    """OAuth2's password flow posts a form: say so to a client that sends JSON,
    rather than letting it read "Field required" for fields it did send."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        raise InvalidField(
            "body",
            msg="send a form (application/x-www-form-urlencoded) with username (the email) "
            "and password, as OAuth2's password flow does; JSON is not accepted here",
        )


@auth.post("/token", dependencies=[Depends(_form_expected)],
           responses=error_responses(400, 401, 429, 503))  # fmt: skip
async def token(
    form: Annotated[TokenForm, Form()],
    request: Request,
    session: SessionDep,
    throttle: ThrottleDep,
    policy: PolicyDep,
    hashing: HashingDep,
) -> TokenPair:
    client = request.client.host if request.client else "unknown"
    return await service.login(
        session=session,
        throttle=throttle,
        policy=policy,
        hashing=hashing,
        email=form.username,
        password=form.password,
        client=client,
    )


@auth.post("/refresh", responses=error_responses(400, 401))
async def refresh(body: RefreshRequest, session: SessionDep, policy: PolicyDep) -> TokenPair:
    return await service.refresh(session=session, policy=policy, refresh_token=body.refresh_token)


@auth.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(400))
async def logout(body: RefreshRequest, session: SessionDep) -> Response:
    await service.logout(session=session, refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@jwks.get("/.well-known/jwks.json")
async def jwks_document(policy: PolicyDep, response: Response) -> dict[str, list[dict[str, str]]]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return policy.signer.jwks()


@users.get("/me", responses=error_responses(401))
async def read_me(user: CurrentUser) -> UserPublic:
    return service.to_public(user)


@users.patch("/me", responses=error_responses(400, 401, 403, 503))
async def update_me(
    body: UpdateMeRequest, user: CurrentUser, session: SessionDep, hashing: HashingDep
) -> UserPublic:
    return await service.update_me(session=session, hashing=hashing, user=user, changes=body)


@users.delete("/me", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(401))
async def delete_me(user: CurrentUser, session: SessionDep, celery: CeleryDep) -> dict[str, str]:
    await service.delete_me(session=session, celery=celery, user=user)
    return {"status": "erasure scheduled"}


@users.get("", responses=error_responses(400, 401, 403))
async def list_users(
    _: AdminPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> UserPage:
    return await service.list_users(session=session, limit=limit, cursor=cursor)


@users.patch("/{user_id}", responses=error_responses(400, 401, 403, 404))
async def set_role(
    user_id: uuid.UUID, body: UpdateRoleRequest, _: AdminPrincipal, session: SessionDep
) -> UserPublic:
    return await service.set_role(session=session, user_id=user_id, role=body.role)
