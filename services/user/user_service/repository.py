"""The only module of the user service that speaks SQL."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from user_service.models import RefreshToken, User


async def get_user(session: AsyncSession, *, user_id: uuid.UUID) -> User | None:
    user = await session.get(User, user_id)
    return None if user is None or user.deleted_at is not None else user


async def get_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    result = await session.execute(
        select(User).where(User.email == email.lower(), User.deleted_at.is_(None))
    )
    return result.scalar_one_or_none()


async def email_exists(session: AsyncSession, *, email: str) -> bool:
    result = await session.execute(select(User.id).where(User.email == email.lower()))
    return result.first() is not None


async def list_users(
    session: AsyncSession, *, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> list[User]:
    query = select(User).where(User.deleted_at.is_(None))
    if after is not None:
        query = query.where(tuple_(User.created_at, User.id) > tuple_(*after))
    query = query.order_by(User.created_at, User.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def add_refresh_token(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    token_hash: str,
    expires_at: datetime,
) -> None:
    await session.execute(
        insert(RefreshToken).values(
            id=uuid.uuid4(),
            user_id=user_id,
            family_id=family_id,
            token_hash=token_hash,
            expires_at=expires_at,
        )
    )


async def lock_refresh_token(session: AsyncSession, *, token_hash: str) -> RefreshToken | None:
    result = await session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )
    return result.scalar_one_or_none()


async def revoke_family(session: AsyncSession, *, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_all_for_user(session: AsyncSession, *, user_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
