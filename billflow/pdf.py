"""The invoice as a PDF (fpdf2): attached to invoice emails and downloadable from the invoice page.

Core PDF fonts only (no font files to ship): text outside Latin-1 is transliterated or replaced, and amounts
are written with the ISO currency code ("1,234.50 GBP") so no currency symbol can fall outside the font.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from decimal import Decimal

from babel.numbers import format_decimal, get_currency_precision
from fpdf import FPDF
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.config import Settings
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from models.clients import Client
from models.invoices import Invoice, InvoiceLine

# Common characters outside Latin-1 that have a readable stand-in (written as escapes for clarity).
_STAND_INS = str.maketrans(
    {
        "\u20ac": "EUR",  # euro sign
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u00d7": "x",  # multiplication sign (Latin-1 has it, but not every viewer's core font)
    }
)


def _latin1(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_STAND_INS))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return folded.encode("latin-1", errors="replace").decode("latin-1")


def _amount(minor: int, currency: str) -> str:
    digits = get_currency_precision(currency)
    value = Decimal(minor).scaleb(-digits)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return f"{format_decimal(value, format=pattern, locale='en_US')} {currency}"


def render_invoice_pdf(
    *, invoice: Invoice, client: Client, lines: Sequence[InvoiceLine], business_name: str, invoice_url: str
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {invoice.number}")
    pdf.set_author(_latin1(business_name))
    pdf.set_creation_date(invoice.issued_at)  # the same invoice always renders the same bytes
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(width / 2, 10, _latin1(business_name))
    pdf.set_font("Helvetica", "B", 22)
    pdf.set_text_color(107, 114, 128)
    pdf.cell(width / 2, 10, "INVOICE", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(31, 41, 55)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(width / 2, 6, "")
    pdf.cell(width / 2, 6, invoice.number, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)

    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width, 6, "Billed to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(width, 5, _latin1(client.name), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(width, 5, _latin1(client.email), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for label, value in (
        ("Issue date", invoice.issue_date.isoformat()),
        ("Due date", invoice.due_date.isoformat()),
        ("Status", invoice.status.replace("_", " ").capitalize()),
    ):
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(30, 5, label)
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(width - 30, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    columns = (
        ("Description", 0.46, "L"),
        ("Qty", 0.1, "R"),
        ("Unit price", 0.16, "R"),
        ("Tax", 0.1, "R"),
        ("Amount", 0.18, "R"),
    )
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_fill_color(243, 244, 246)
    for title, share, align in columns:
        pdf.cell(width * share, 8, title, align=align, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in lines:
        cells = (
            _latin1(line.description)[:70],
            format(Decimal(line.quantity).normalize(), "f"),
            _amount(line.unit_price_minor, invoice.currency),
            f"{Decimal(line.tax_rate_bp) / 100:g} %",
            _amount(line.subtotal_minor, invoice.currency),
        )
        for value, (_, share, align) in zip(cells, columns, strict=True):
            pdf.cell(width * share, 8, value, align=align, border="B")
        pdf.ln()
    pdf.ln(4)

    totals = [("Subtotal", invoice.subtotal_minor), ("Tax", invoice.tax_minor), ("Total", invoice.total_minor)]
    if invoice.amount_paid_minor:
        totals.append(("Paid", -invoice.amount_paid_minor))
    totals.append(("Balance due", invoice.balance_minor))
    for label, minor in totals:
        bold = label in ("Total", "Balance due")
        pdf.set_font("Helvetica", "B" if bold else "", 11 if bold else 10)
        pdf.cell(width * 0.64, 7, "")
        pdf.cell(width * 0.18, 7, label)
        pdf.cell(width * 0.18, 7, _amount(minor, invoice.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    if invoice.memo:
        pdf.ln(6)
        pdf.set_font("Helvetica", "I", 9)
        pdf.multi_cell(width, 5, _latin1(invoice.memo))
    pdf.ln(10)
    pdf.set_font("Helvetica", "", 9)
    pdf.set_text_color(107, 114, 128)
    pdf.multi_cell(width, 5, f"View and pay this invoice online: {invoice_url}")
    return bytes(pdf.output())


async def render_invoice_pdf_for(session: AsyncSession, *, invoice: Invoice, settings: Settings) -> bytes:
    """Load the client and lines, then render."""
    assert invoice.id is not None
    client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    lines = await invoices_repo.get_lines(session, invoice_id=invoice.id)
    base = settings.public_base_url.rstrip("/")
    return render_invoice_pdf(
        invoice=invoice,
        client=client,
        lines=lines,
        business_name=settings.business_name,
        invoice_url=f"{base}/i/{invoice.public_token}",
    )
