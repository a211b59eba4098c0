from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.repositories import client_sql
from models.client_settings import ClientSettings
from models.clients import Client
from models.columns import DEFAULT_WORKSPACE_ID, utcnow
from models.enums import UNSETTLED_STATUSES
from models.invoices import Invoice
from models.payments import Payment
from models.timeline import TimelineEvent
from models.workflow_io import ClientIn


def _billing_values(client: ClientIn) -> dict[str, str]:
    """The buyer's billing details this booking gives (issue 14); kind follows the VAT id when not given."""
    kind = client.kind.value if client.kind else ("business" if client.vat_id else None)
    values = {
        "kind": kind,
        "address_line1": client.address_line1,
        "postcode": client.postcode,
        "city": client.city,
        "country": client.country,
        "vat_id": client.vat_id,
    }
    return {name: value for name, value in values.items() if value is not None}


async def upsert_client(
    session: AsyncSession,
    *,
    client: ClientIn,
    source: str,
    actor: str,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> int:
    """Insert or refresh the workspace's client of `source` with this external id; returns the client's id.

    The same external id of another source is another client: a source only ever changes its own clients. A
    changed email is written to the client's timeline with `actor` (the integration, key or user behind it).
    Billing details a booking leaves out keep what is on file.
    """
    billing = _billing_values(client)
    query = select(Client).where(
        Client.workspace_id == workspace_id, Client.source == source, Client.external_id == client.external_id
    )
    existing = (await session.exec(query.with_for_update())).first()
    if existing is None:
        inserted = (
            insert(Client)
            .values(
                workspace_id=workspace_id,
                source=source,
                external_id=client.external_id,
                name=client.name,
                email=str(client.email),
                timezone=client.timezone,
                created_at=utcnow(),
                updated_at=utcnow(),
                **{"kind": "consumer", **billing},
            )
            .on_conflict_do_nothing(
                index_elements=[col(Client.workspace_id), col(Client.source), col(Client.external_id)]
            )
            .returning(col(Client.id))
        )
        new_id = (await session.exec(inserted)).first()  # type: ignore[call-overload]
        if new_id is not None:
            return int(new_id[0])
        existing = (await session.exec(query.with_for_update())).one()  # a concurrent insert won the race
    assert existing.id is not None
    email = str(client.email)
    if existing.email != email:
        await session.exec(  # type: ignore[call-overload]
            insert(TimelineEvent).values(
                client_id=existing.id,
                kind="client.email_changed",
                message=f"Email changed from {existing.email} to {email} by {actor}"[:2000],
                data={"from": existing.email, "to": email, "by": actor, "source": source},
                occurred_at=utcnow(),
            )
        )
    wanted = {"name": client.name, "email": email, "timezone": client.timezone, **billing}
    if any(getattr(existing, name) != value for name, value in wanted.items()):
        for name, value in wanted.items():
            setattr(existing, name, value)
        existing.updated_at = utcnow()
        session.add(existing)
        await session.flush()
    return existing.id


async def get_client(
    session: AsyncSession,
    *,
    client_id: int | None = None,
    external_id: str | None = None,
    source: str | None = None,
    workspace_id: int | None = None,
) -> Client | None:
    """One client by id, or by (source, external id); only the workspace's when it is given (by (source,
    external id) without it: the first workspace's). By external id alone see `find_clients`."""
    query = select(Client)
    if workspace_id is not None:
        query = query.where(Client.workspace_id == workspace_id)
    elif external_id is not None:
        query = query.where(Client.workspace_id == DEFAULT_WORKSPACE_ID)
    if client_id is not None:
        query = query.where(Client.id == client_id)
    if external_id is not None:
        if source is None:
            raise ValueError("a client is identified by its source and external id")
        query = query.where(Client.external_id == external_id, Client.source == source)
    return (await session.exec(query)).first()


async def find_clients(
    session: AsyncSession, *, external_id: str, source: str | None = None, workspace_id: int | None = None
) -> Sequence[Client]:
    """The clients with this external id (one per source), or the one of `source`; the workspace's if given."""
    query = select(Client).where(Client.external_id == external_id)
    if workspace_id is not None:
        query = query.where(Client.workspace_id == workspace_id)
    if source is not None:
        query = query.where(Client.source == source)
    return (await session.exec(query.order_by(col(Client.id)).limit(20))).all()


# --- client records (staff API, CLI, dashboard) ---------------------------------------------------


async def search_clients(
    session: AsyncSession,
    *,
    query: str | None = None,
    limit: int = 50,
    offset: int = 0,
    workspace_id: int | None = None,
) -> Sequence[Client]:
    """Clients by name, ordered by name; `query` matches name, email or external id (case-insensitive); only
    the workspace's when it is given."""
    stmt = select(Client)
    if workspace_id is not None:
        stmt = stmt.where(Client.workspace_id == workspace_id)
    if query:
        pattern = f"%{_escape_like(query)}%"
        stmt = stmt.where(
            or_(
                col(Client.name).ilike(pattern, escape="\\"),
                col(Client.email).ilike(pattern, escape="\\"),
                col(Client.external_id).ilike(pattern, escape="\\"),
            )
        )
    stmt = stmt.order_by(col(Client.name), col(Client.id)).limit(limit).offset(offset)
    return (await session.exec(stmt)).all()


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def balances(session: AsyncSession, *, client_ids: Sequence[int], due_before: datetime) -> Sequence[Row[Any]]:
    """Per client and currency: invoiced (void excluded), paid, open balance and the part due before the instant
    `due_before` (the end of the reporting day, as in the reports). The SQL is client_sql's: the CLI runs it too."""
    stmt = text(client_sql.BALANCES)
    return (await session.execute(stmt, {"client_ids": list(client_ids), "due_before": due_before})).all()


async def client_invoices(session: AsyncSession, *, client_id: int, limit: int = 100) -> Sequence[Invoice]:
    stmt = (
        select(Invoice)
        .where(Invoice.client_id == client_id)
        .order_by(col(Invoice.issued_at).desc(), col(Invoice.id).desc())
        .limit(limit)
    )
    return (await session.exec(stmt)).all()


async def client_payments(session: AsyncSession, *, client_id: int, limit: int = 100) -> list[tuple[Payment, str]]:
    """The client's payments and refunds, newest first, each with its invoice's number."""
    stmt = (
        select(Payment, col(Invoice.number))
        .join(Invoice, col(Invoice.id) == col(Payment.invoice_id))
        .where(Payment.client_id == client_id)
        .order_by(col(Payment.received_at).desc(), col(Payment.id).desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def client_timeline(session: AsyncSession, *, client_id: int, limit: int = 200) -> Sequence[Row[Any]]:
    """Invoices, payments, emails (with their delivery state and events) and timeline events, newest first.

    Issues and payments come from their own tables (the record of truth); the timeline events that merely
    repeat them are left out, every other event (transitions, staff actions, email events, notes) is kept. The
    SQL is client_sql's: `billflow client show` runs it through psycopg.
    """
    stmt = text(client_sql.TIMELINE)
    return (await session.execute(stmt, {"client_id": client_id, "limit": limit})).all()


async def get_client_settings(session: AsyncSession, *, client_id: int) -> ClientSettings | None:
    return await session.get(ClientSettings, client_id)


async def save_client_settings(session: AsyncSession, *, settings: ClientSettings) -> ClientSettings:
    settings.updated_at = utcnow()
    merged = await session.merge(settings)
    await session.flush()
    return merged


async def unsettled_workflows(
    session: AsyncSession, *, client_id: int, reminders_paused: bool | None = None
) -> Sequence[Row[Any]]:
    """Number and workflow id of the client's invoices that still run reminders (open, part paid, overdue)."""
    stmt = select(col(Invoice.number), col(Invoice.workflow_id)).where(
        Invoice.client_id == client_id, col(Invoice.status).in_(UNSETTLED_STATUSES)
    )
    if reminders_paused is not None:
        stmt = stmt.where(Invoice.reminders_paused == reminders_paused)
    return (await session.execute(stmt.order_by(col(Invoice.id)))).all()
