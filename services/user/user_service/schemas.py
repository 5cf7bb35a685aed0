"""Wire types of the user service. Request models forbid unknown fields, so a
``role`` sent at registration is a 422, never silently honoured."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel, EmailStr, Field, WithJsonSchema, model_validator
from pydantic.json_schema import SkipJsonSchema

from sandbox_common.schemas import Name100, RequestModel, Text320

Password = Annotated[str, Field(min_length=8, max_length=128)]
DisplayName = Name100
Role = Literal["user", "admin"]


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# EmailStr (email-validator) also refuses the special-use domains of RFC 6761
# and 7686 (example.test, host.local, ...); the schema says so.
_SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
_EMAIL_SCHEMA = {
    "type": "string",
    "format": "email",
    "maxLength": 254,
    "pattern": rf"^(?![^@]*@(?:.*\.)?(?:{_SPECIAL_USE})$)",
}
Email = Annotated[EmailStr, WithJsonSchema(_EMAIL_SCHEMA)]


class RegisterRequest(RequestModel):
    email: Email
    password: Password
    display_name: DisplayName


class TokenForm(BaseModel):
    """OAuth2's password grant, posted as a form; ``username`` is the email.
    (Text that cannot be an account's email or password is a 422, not a 401.)"""

    grant_type: Literal["password"] | None = None
    username: Annotated[Text320, Field(min_length=1)]
    password: Annotated[str, Field(min_length=1, max_length=128)]
    scope: str = ""
    client_id: str | None = None
    client_secret: str | None = None


class RefreshRequest(RequestModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class UpdateMeRequest(RequestModel):
    """A new password needs the current one; a display name of null is no change."""

    model_config = {"json_schema_extra": {"dependentRequired": {"password": ["current_password"]}}}

    display_name: DisplayName | None = None
    password: Password | SkipJsonSchema[None] = None
    current_password: Annotated[str, Field(max_length=128)] | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _current_password_with_new(self) -> UpdateMeRequest:
        for name in ("password", "current_password"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.password is not None and self.current_password is None:
            raise ValueError("current_password is required to change the password")
        return self


class UpdateRoleRequest(RequestModel):
    role: Role


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserPublic]
    next_cursor: str | None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
