"""How clients engage with what billflow sends: invoice views, and (below) SendGrid delivery events."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.repositories import invoices as invoices_repo
from billflow.repositories import timeline as timeline_repo
from models.columns import utcnow


async def record_invoice_viewed(
    session: AsyncSession, *, invoice_id: int, source: str, at: datetime | None = None
) -> bool:
    """Set viewed_at on the first view (page visit or email open) with one timeline event; later views change
    nothing. True if this was the first view."""
    invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id, for_update=True)
    if invoice is None or invoice.viewed_at is not None:
        return False
    invoice.viewed_at = at or utcnow()
    invoice.updated_at = utcnow()
    session.add(invoice)
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind="invoice.viewed",
        message=f"Invoice {invoice.number} first viewed ({source})",
        data={"source": source},
        key=f"invoice:{invoice.id}:viewed",
    )
    await session.flush()
    return True
