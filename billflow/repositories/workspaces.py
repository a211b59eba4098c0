"""Queries on workspaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.workspaces import Workspace


async def add_workspace(session: AsyncSession, *, workspace: Workspace) -> Workspace:
    session.add(workspace)
    await session.flush()
    return workspace


async def get_workspace(
    session: AsyncSession, *, workspace_id: int | None = None, slug: str | None = None, for_update: bool = False
) -> Workspace | None:
    if workspace_id is None and slug is None:
        raise ValueError("a workspace is found by its id or its slug")
    query = select(Workspace)
    if workspace_id is not None:
        query = query.where(Workspace.id == workspace_id)
    if slug is not None:
        query = query.where(Workspace.slug == slug)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def list_workspaces(session: AsyncSession, *, limit: int = 200, offset: int = 0) -> Sequence[Workspace]:
    return (await session.exec(select(Workspace).order_by(col(Workspace.id)).limit(limit).offset(offset))).all()


async def save_workspace(session: AsyncSession, *, workspace: Workspace) -> Workspace:
    session.add(workspace)
    await session.flush()
    return workspace


class Branding(NamedTuple):
    """What the issuing workspace puts on an invoice's documents (None where it has none)."""

    logo: bytes | None
    footer: str | None
    locale: str | None


async def branding_of_invoice(session: AsyncSession, *, invoice_id: int) -> Branding:
    """The logo, invoice footer and locale of the workspace that issued this invoice, in one read."""
    from models.invoices import Invoice

    owner = select(Invoice.workspace_id).where(Invoice.id == invoice_id).scalar_subquery()
    query = select(Workspace.logo, Workspace.invoice_footer, Workspace.locale).where(Workspace.id == owner)
    row = (await session.exec(query)).first()
    return Branding(*row) if row is not None else Branding(None, None, None)


async def reminder_policy_of(session: AsyncSession, *, workspace_id: int) -> dict[str, Any] | None:
    """The workspace's default reminder policy as stored (None: the standard one)."""
    query = select(Workspace.reminder_policy).where(Workspace.id == workspace_id)
    stored = (await session.exec(query)).first()
    return dict(stored) if stored else None


async def get_workspace_of_stripe_account(session: AsyncSession, *, account: str) -> Workspace | None:
    """The workspace whose Stripe Connect account this is (a Connect webhook's `account`), if any."""
    return (await session.exec(select(Workspace).where(Workspace.stripe_account_id == account))).first()


async def stripe_account_of(session: AsyncSession, *, workspace_id: int) -> str | None:
    """The Connect account a workspace's new Checkout Sessions are made on (None: the platform's own)."""
    query = select(Workspace.stripe_account_id).where(Workspace.id == workspace_id)
    return (await session.exec(query)).first()


async def stripe_way_of(session: AsyncSession, *, workspace_id: int) -> tuple[str | None, bool]:
    """How a workspace's new Checkout Sessions are made: (its Connect account or None, whether it has its own
    keys); (None, False) is the installation's own account and keys."""
    query = select(Workspace.stripe_account_id, Workspace.stripe_secret_key_sealed).where(Workspace.id == workspace_id)
    row = (await session.exec(query)).first()
    return (row[0], row[1] is not None) if row is not None else (None, False)


async def own_stripe_sealed(session: AsyncSession, *, workspace_id: int) -> tuple[str | None, str | None]:
    """A workspace's sealed own Stripe secret key and webhook secret (Nones where unset or no such workspace)."""
    query = select(Workspace.stripe_secret_key_sealed, Workspace.stripe_webhook_secret_sealed).where(
        Workspace.id == workspace_id
    )
    row = (await session.exec(query)).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def sender_of_invoice(session: AsyncSession, *, invoice_id: int) -> tuple[str | None, str | None, str | None]:
    """(sender name, sender email, reply-to) of the workspace that issued the invoice; Nones where unset."""
    from models.invoices import Invoice

    owner = select(Invoice.workspace_id).where(Invoice.id == invoice_id).scalar_subquery()
    query = select(Workspace.sender_name, Workspace.sender_email, Workspace.reply_to).where(Workspace.id == owner)
    row = (await session.exec(query)).first()
    return (row[0], row[1], row[2]) if row is not None else (None, None, None)


async def locale_of(session: AsyncSession, *, workspace_id: int) -> str | None:
    """The locale the workspace's documents and emails format amounts in (its profile); None if unknown."""
    query = select(Workspace.locale).where(Workspace.id == workspace_id)
    return (await session.exec(query)).first()


async def reporting_timezone(session: AsyncSession, *, workspace_id: int) -> str | None:
    """The workspace's reporting time zone (its profile), None for an unknown workspace."""
    query = select(Workspace.reporting_timezone).where(Workspace.id == workspace_id)
    return (await session.exec(query)).first()
