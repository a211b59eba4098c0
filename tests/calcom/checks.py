"""Shared checks of the Cal.com tests: a catalog entry per test, the integration's invoices, counts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select

from billflow.db import Database
from billflow.repositories import timeline as timeline_repo
from billflow.services import catalog
from models.invoices import Invoice
from models.service_catalog import CatalogEntryIn

# 90.00 GBP + 20 % tax
CATALOG_PRICE, CATALOG_TAX_BP, CATALOG_TOTAL = 9000, 2000, 10_800


async def catalog_slug(db: Database) -> str:
    slug = f"massage-{uuid.uuid4().hex[:8]}"
    await catalog.add_entry(
        db,
        CatalogEntryIn(
            event_type=slug,
            service_name="Deep-tissue massage, 60 min",
            unit_price_minor=CATALOG_PRICE,
            currency="GBP",
            tax_rate_bp=CATALOG_TAX_BP,
        ),
    )
    return slug


async def invoices_of(db: Database, integration: str) -> list[Invoice]:
    async with db.session() as session:
        query = select(Invoice).where(col(Invoice.source_key).startswith(f"booking:{integration}:"))
        return list((await session.exec(query)).all())


async def one_invoice(db: Database, integration: str) -> Invoice:
    invoices = await invoices_of(db, integration)
    assert len(invoices) == 1, invoices
    return invoices[0]


async def count(db: Database, query: Any) -> int:
    async with db.session() as session:
        return int((await session.exec(query)).one())


async def timeline_kinds(db: Database, invoice: Invoice) -> list[str]:
    async with db.session() as session:
        events = await timeline_repo.list_events(session, client_id=invoice.client_id)
    return [e.kind for e in events]


async def invoice_status_becomes(db: Database, integration: str, status: str, *, within: float = 20.0) -> Invoice:
    """The integration's one invoice, polled until its status is `status` (a void owed to the run through the
    outbox is applied by the run shortly after the answer) or `within` seconds passed."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        invoice = await one_invoice(db, integration)
        if invoice.status == status or loop.time() > deadline:
            return invoice
        await asyncio.sleep(0.1)
