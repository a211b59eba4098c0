"""Queries on staff users, their one-time link tokens and login attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.users import LoginAttempt, StaffToken, StaffUser


async def add_user(session: AsyncSession, *, user: StaffUser) -> StaffUser:
    session.add(user)
    await session.flush()
    return user


async def get_user(
    session: AsyncSession,
    *,
    user_id: int | None = None,
    email: str | None = None,
    workspace_id: int | None = None,
    for_update: bool = False,
) -> StaffUser | None:
    """One user by id or address; only the workspace's when it is given."""
    query = select(StaffUser)
    if workspace_id is not None:
        query = query.where(StaffUser.workspace_id == workspace_id)
    if user_id is not None:
        query = query.where(StaffUser.id == user_id)
    if email is not None:
        query = query.where(StaffUser.email == email.strip().lower())
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def list_users(session: AsyncSession, *, workspace_id: int | None = None) -> Sequence[StaffUser]:
    """The workspace's users by address (None: every workspace's)."""
    query = select(StaffUser)
    if workspace_id is not None:
        query = query.where(StaffUser.workspace_id == workspace_id)
    return (await session.exec(query.order_by(col(StaffUser.email)))).all()


async def count_admins(session: AsyncSession, *, workspace_id: int) -> int:
    """The workspace's active admins (each workspace keeps at least one)."""
    query = (
        select(func.count())
        .select_from(StaffUser)
        .where(StaffUser.workspace_id == workspace_id, StaffUser.role == "admin", col(StaffUser.disabled_at).is_(None))
    )
    return int((await session.exec(query)).one())


async def add_token(session: AsyncSession, *, token: StaffToken) -> StaffToken:
    session.add(token)
    await session.flush()
    return token


async def get_token(session: AsyncSession, *, token_hash: str, for_update: bool = False) -> StaffToken | None:
    query = select(StaffToken).where(StaffToken.token_hash == token_hash)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def expire_tokens(session: AsyncSession, *, user_id: int, purpose: str, at: datetime) -> None:
    """Retire a user's unused links of one purpose (a newer link replaces them)."""
    query = select(StaffToken).where(
        StaffToken.user_id == user_id, StaffToken.purpose == purpose, col(StaffToken.used_at).is_(None)
    )
    for token in (await session.exec(query)).all():
        token.used_at = at
        session.add(token)


async def add_attempt(session: AsyncSession, *, attempt: LoginAttempt) -> None:
    session.add(attempt)
    await session.flush()


async def failed_attempts(
    session: AsyncSession, *, since: datetime, email: str | None = None, address: str | None = None
) -> int:
    """Failed sign-ins since an instant, for one account or one address (both indexed on (key, at))."""
    query = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(col(LoginAttempt.at) >= since, col(LoginAttempt.succeeded).is_(False))
    )
    if email is not None:
        query = query.where(LoginAttempt.email == email)
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    return int((await session.exec(query)).one())


async def oldest_failure(
    session: AsyncSession, *, since: datetime, email: str | None = None, address: str | None = None
) -> datetime | None:
    query = select(func.min(LoginAttempt.at)).where(
        col(LoginAttempt.at) >= since, col(LoginAttempt.succeeded).is_(False)
    )
    if email is not None:
        query = query.where(LoginAttempt.email == email)
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    return (await session.exec(query)).one()
