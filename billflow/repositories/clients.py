from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.clients import Client
from models.columns import utcnow
from models.workflow_io import ClientIn


async def upsert_client(session: AsyncSession, *, client: ClientIn) -> int:
    """Insert or refresh the client by its external id; returns the client's id."""
    stmt = insert(Client).values(
        external_id=client.external_id,
        name=client.name,
        email=str(client.email),
        timezone=client.timezone,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[col(Client.external_id)],
        set_={
            "name": stmt.excluded.name,
            "email": stmt.excluded.email,
            "timezone": stmt.excluded.timezone,
            "updated_at": stmt.excluded.updated_at,
        },
    ).returning(col(Client.id))
    return (await session.exec(stmt)).scalar_one()  # type: ignore[call-overload]


async def get_client(
    session: AsyncSession, *, client_id: int | None = None, external_id: str | None = None
) -> Client | None:
    query = select(Client)
    if client_id is not None:
        query = query.where(Client.id == client_id)
    if external_id is not None:
        query = query.where(Client.external_id == external_id)
    return (await session.exec(query)).first()
