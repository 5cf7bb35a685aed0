"""The user service's logic. Functions take keyword-only arguments and raise
domain errors; the router maps them to HTTP."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celery import Celery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandbox_common import metrics, outbox
from sandbox_common.context import current_request_id
from sandbox_common.contract import ActivityEvent, Tasks, record_events_kwargs
from sandbox_common.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from sandbox_common.logging import get_logger
from sandbox_common.pagination import BadCursor, decode_cursor, encode_cursor
from user_service import repository, security
from user_service.hashing import HashingOverloaded, PasswordHashing
from user_service.models import OutboxTask, User
from user_service.schemas import TokenPair, UpdateMeRequest, UserPage, UserPublic
from user_service.throttle import LoginThrottle

_log = get_logger(__name__)
BAD_CREDENTIALS = "Incorrect email or password"


class RefreshRejected(Unauthorized):
    detail = "Invalid refresh token"


@dataclass(frozen=True)
class TokenPolicy:
    signer: security.TokenSigner
    refresh_ttl: timedelta


def _now() -> datetime:
    return datetime.now(UTC)


def to_public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


def _enqueue(session: AsyncSession, task: str, **kwargs: object) -> None:
    """A task the change causes, committed with it (the outbox); the relay
    publishes it, so a broker outage at this moment only delays it."""
    session.add(OutboxTask(task=task, kwargs=dict(kwargs), request_id=current_request_id()))


def registered_event(user: User) -> ActivityEvent:
    """``user.registered``, one per account however often the outbox sends it."""
    return ActivityEvent.new(type="user.registered", user_id=user.id, object_id=user.id,
                             event_id=uuid.uuid5(user.id, "user.registered"),
                             occurred_at=user.created_at)  # fmt: skip


async def _release_connection(session: AsyncSession) -> None:
    """End the read transaction before a password hash, so no pooled
    connection waits on one (tens of milliseconds, longer in a queue). Call it
    with nothing pending; what was loaded stays usable (expire_on_commit is
    off), and the next statement opens a new transaction."""
    await session.commit()


async def register(
    *,
    session: AsyncSession,
    celery: Celery,
    hashing: PasswordHashing,
    email: str,
    password: str,
    display_name: str,
) -> UserPublic:
    email = email.lower()
    if await repository.email_exists(session, email=email):
        raise Conflict("Email already registered")
    await _release_connection(session)
    password_hash = await hashing.hash(password)
    user = User(id=uuid.uuid4(), email=email, display_name=display_name,
                password_hash=password_hash, role="user", created_at=_now())  # fmt: skip
    session.add(user)
    _enqueue(session, Tasks.SEND_WELCOME, user_id=str(user.id))
    _enqueue(session, Tasks.RECORD_EVENTS, **record_events_kwargs([registered_event(user)]))
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("Email already registered") from exc
    metrics.REGISTRATIONS.inc()
    _log.info("user registered", user_id=str(user.id))
    outbox.kick(celery, Tasks.RELAY_USER_OUTBOX)
    return to_public(user)


async def _issue_pair(
    session: AsyncSession, *, policy: TokenPolicy, user: User, family_id: uuid.UUID
) -> TokenPair:
    refresh, refresh_hash = security.new_refresh_token()
    await repository.add_refresh_token(
        session,
        user_id=user.id,
        family_id=family_id,
        token_hash=refresh_hash,
        expires_at=_now() + policy.refresh_ttl,
    )
    access = policy.signer.issue(user_id=str(user.id), role=user.role)
    return TokenPair(
        access_token=access, refresh_token=refresh, expires_in=policy.signer.ttl_seconds
    )


async def login(
    *,
    session: AsyncSession,
    throttle: LoginThrottle,
    policy: TokenPolicy,
    hashing: PasswordHashing,
    email: str,
    password: str,
    client: str,
) -> TokenPair:
    email = email.strip().lower()
    wait = await throttle.retry_after(email, client)
    if wait is not None:
        metrics.LOGINS.labels("throttled").inc()
        raise TooManyRequests("Too many failed logins; try again later", retry_after=wait)
    if len(password) > 128:  # longer than any password we store; don't spend a hash on it
        await throttle.record_failure(email, client)
        metrics.LOGINS.labels("failure").inc()
        raise Unauthorized(BAD_CREDENTIALS)
    user = await repository.get_user_by_email(session, email=email)
    await _release_connection(session)
    ok = await hashing.verify(user.password_hash if user else None, password)
    if user is None or not ok:
        await throttle.record_failure(email, client)
        metrics.LOGINS.labels("failure").inc()
        raise Unauthorized(BAD_CREDENTIALS)
    await throttle.reset(email)
    if security.needs_rehash(user.password_hash):
        # The login stands if hashing is full; the upgrade waits for a quieter login.
        with contextlib.suppress(HashingOverloaded):
            user.password_hash = await hashing.hash(password)
    pair = await _issue_pair(session, policy=policy, user=user, family_id=uuid.uuid4())
    await session.commit()
    metrics.LOGINS.labels("success").inc()
    return pair


async def refresh(*, session: AsyncSession, policy: TokenPolicy, refresh_token: str) -> TokenPair:
    now = _now()
    token = await repository.lock_refresh_token(
        session, token_hash=security.hash_refresh_token(refresh_token)
    )
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise RefreshRejected()
    if token.used_at is not None:
        # A rotated token came back: someone holds a copy. End the whole family.
        await repository.revoke_family(session, family_id=token.family_id, now=now)
        await session.commit()
        _log.warning("refresh token reuse; family revoked", family_id=str(token.family_id))
        raise RefreshRejected()
    user = await repository.get_user(session, user_id=token.user_id)
    if user is None:
        raise RefreshRejected()
    token.used_at = now
    pair = await _issue_pair(session, policy=policy, user=user, family_id=token.family_id)
    await session.commit()
    return pair


async def logout(*, session: AsyncSession, refresh_token: str) -> None:
    token = await repository.lock_refresh_token(
        session, token_hash=security.hash_refresh_token(refresh_token)
    )
    if token is not None:
        await repository.revoke_family(session, family_id=token.family_id, now=_now())
        await session.commit()


async def get_active_user(*, session: AsyncSession, user_id: str) -> User:
    try:
        uid = uuid.UUID(user_id)
    except ValueError as exc:
        raise Unauthorized("Invalid token") from exc
    user = await repository.get_user(session, user_id=uid)
    if user is None:
        raise Unauthorized("Account no longer exists")
    return user


async def update_me(
    *, session: AsyncSession, hashing: PasswordHashing, user: User, changes: UpdateMeRequest
) -> UserPublic:
    if changes.password is not None:  # checked before anything changes
        assert changes.current_password is not None
        await _release_connection(session)
        if not await hashing.verify(user.password_hash, changes.current_password):
            raise Forbidden("Current password is incorrect")
        user.password_hash = await hashing.hash(changes.password)
        # A new password ends every other session.
        await repository.revoke_all_for_user(session, user_id=user.id, now=_now())
    if changes.display_name is not None:
        user.display_name = changes.display_name
    await session.commit()
    return to_public(user)


async def delete_me(*, session: AsyncSession, celery: Celery, user: User) -> None:
    """Disable at once, erase asynchronously (the account, then its activity)."""
    now = _now()
    user.deleted_at = now
    await repository.revoke_all_for_user(session, user_id=user.id, now=now)
    _enqueue(session, Tasks.ERASE_ACCOUNT, user_id=str(user.id))
    await session.commit()
    outbox.kick(celery, Tasks.RELAY_USER_OUTBOX)


async def list_users(*, session: AsyncSession, limit: int, cursor: str | None) -> UserPage:
    after = None
    if cursor is not None:
        created_at, user_id = decode_cursor(cursor, length=2)
        try:
            after = (datetime.fromisoformat(created_at), uuid.UUID(user_id))
        except (TypeError, ValueError) as exc:
            raise BadCursor() from exc
    users = await repository.list_users(session, limit=limit + 1, after=after)
    next_cursor = None
    if len(users) > limit:
        users = users[:limit]
        last = users[-1]
        next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return UserPage(items=[to_public(u) for u in users], next_cursor=next_cursor)


async def set_role(*, session: AsyncSession, user_id: uuid.UUID, role: str) -> UserPublic:
    user = await repository.get_user(session, user_id=user_id)
    if user is None:
        raise NotFound("User not found")
    user.role = role
    await session.commit()
    return to_public(user)


async def ensure_admin(
    *, session: AsyncSession, hashing: PasswordHashing, email: str, password: str
) -> bool:
    """Create the configured first admin if absent. True when created."""
    if await repository.email_exists(session, email=email):
        return False
    await _release_connection(session)
    password_hash = await hashing.hash(password)
    session.add(User(id=uuid.uuid4(), email=email.lower(), display_name="Administrator",
                     password_hash=password_hash, role="admin"))  # fmt: skip
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True
