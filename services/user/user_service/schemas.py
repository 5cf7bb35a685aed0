"""Wire types of the user service. Request models forbid unknown fields, so a
``role`` sent at registration is a 422, never silently honoured."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

Password = Annotated[str, Field(min_length=8, max_length=128)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Role = Literal["user", "admin"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Request):
    email: EmailStr
    password: Password
    display_name: DisplayName


class RefreshRequest(_Request):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class UpdateMeRequest(_Request):
    display_name: DisplayName | None = None
    password: Password | None = None
    current_password: Annotated[str, Field(max_length=128)] | None = None

    @model_validator(mode="after")
    def _current_password_with_new(self) -> UpdateMeRequest:
        if self.password is not None and self.current_password is None:
            raise ValueError("current_password is required to change the password")
        return self


class UpdateRoleRequest(_Request):
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
