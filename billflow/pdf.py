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
from models.clients import Client
from models.documents import InvoiceDocument, Party
from models.enums import InvoiceKind, TaxCategory
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
    """The invoice from its rows (no database): kept for callers that hold them already."""
    from billflow.config import Settings
    from billflow.services.documents import invoice_document

    settings = Settings(BILLFLOW_BUSINESS_NAME=business_name)
    doc = invoice_document(invoice, client, lines, settings=settings)
    return render_document_pdf(doc.model_copy(update={"public_url": invoice_url}))


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Cut a cell's text to its column (with an ellipsis) so it never runs into the next one."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text.rstrip() + "..."


def _party_lines(party: Party) -> list[str]:
    address = party.address
    rows = [party.legal_name or party.name]
    if party.legal_name and party.legal_name != party.name:
        rows.append(party.name)
    rows += [r for r in (address.line1, " ".join(x for x in (address.postcode, address.city) if x)) if r]
    if address.country:
        rows.append(address.country)
    if party.vat_id:
        rows.append(f"VAT id: {party.vat_id}")
    if party.registration:
        rows.append(f"Reg.: {party.registration}")
    if party.email:
        rows.append(party.email)
    return rows


_TITLES = {
    InvoiceKind.invoice: "INVOICE",
    InvoiceKind.deposit: "DEPOSIT INVOICE",
    InvoiceKind.final: "FINAL INVOICE",
}
_CATEGORY_LABELS = {
    TaxCategory.standard: "VAT",
    TaxCategory.zero: "Zero-rated",
    TaxCategory.exempt: "Exempt",
    TaxCategory.reverse_charge: "Reverse charge",
}


def render_document_pdf(doc: InvoiceDocument) -> bytes:
    """Seller and buyer blocks, dates, lines, the VAT breakdown, totals, references, payment means, notes."""
    pdf = FPDF(format="A4")
    title = "CREDIT NOTE" if doc.document_type == "credit_note" else _TITLES[doc.invoice_kind]
    pdf.set_title(f"{title.capitalize()} {doc.number}")
    pdf.set_author(_latin1(doc.seller.name))
    pdf.set_creation_date(doc.issued_at)  # the same document always renders the same bytes
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    cur = doc.currency

    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(width / 2, 10, _latin1(doc.seller.name))
    pdf.set_font("Helvetica", "B", 20)
    pdf.set_text_color(107, 114, 128)
    pdf.cell(width / 2, 10, title, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(31, 41, 55)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(width / 2, 6, "")
    pdf.cell(width / 2, 6, doc.number, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    # Seller (left) and buyer (right) blocks.
    top = bottom = pdf.get_y()
    for column, (label, party) in enumerate((("From", doc.seller), ("Billed to", doc.buyer))):
        pdf.set_xy(pdf.l_margin + column * width / 2, top)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(width / 2, 6, label, new_x="LEFT", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)
        for row in _party_lines(party):
            pdf.cell(width / 2, 4.5, _latin1(row)[:60], new_x="LEFT", new_y="NEXT")
        bottom = max(bottom, pdf.get_y())
    pdf.set_xy(pdf.l_margin, bottom)
    pdf.ln(4)

    facts = [("Issue date", doc.issue_date.isoformat())]
    if doc.period_start and doc.period_end:
        facts.append(("Service period", f"{doc.period_start.isoformat()} to {doc.period_end.isoformat()}"))
    elif doc.service_date:
        facts.append(("Date of supply", doc.service_date.isoformat()))
    else:
        facts.append(("Date of supply", doc.issue_date.isoformat()))
    if doc.document_type == "invoice" and doc.due_date:
        facts.append(("Due date", doc.due_date.isoformat()))
    for ref in doc.references:
        kind = "Invoice" if ref.kind == "invoice" else "Advance payment"
        facts.append((f"{kind} ref.", f"{ref.number} of {ref.issue_date.isoformat()}"))
    if doc.status:
        facts.append(("Status", doc.status.replace("_", " ").capitalize()))
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(34, 5, label)
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(width - 34, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")
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
    for head, share, align in columns:
        pdf.cell(width * share, 8, head, align=align, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in doc.lines:
        rate = (
            f"{Decimal(line.tax.rate_bp) / 100:g} %"
            if line.tax.category is TaxCategory.standard
            else line.tax.category.code
        )
        cells = (
            _fit(pdf, _latin1(line.description), width * columns[0][1] - 2),
            format(Decimal(line.quantity).normalize(), "f"),
            _amount(line.unit_price_minor, cur),
            rate,
            _amount(line.net_minor, cur),
        )
        for value, (_, share, align) in zip(cells, columns, strict=True):
            pdf.cell(width * share, 8, value, align=align, border="B")
        pdf.ln()
    pdf.ln(4)

    # The VAT breakdown, one row per category and rate.
    pdf.set_font("Helvetica", "B", 9)
    for head, share in (("VAT breakdown", 0.46), ("Rate", 0.18), ("Taxable", 0.18), ("VAT", 0.18)):
        pdf.cell(width * share, 6, head, align="L" if share == 0.46 else "R", fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for group in doc.tax_breakdown:
        label = _CATEGORY_LABELS[group.category] + (f" ({group.exemption_reason})" if group.exemption_reason else "")
        pdf.cell(width * 0.46, 6, _latin1(label)[:60])
        pdf.cell(width * 0.18, 6, f"{Decimal(group.rate_bp) / 100:g} %", align="R")
        pdf.cell(width * 0.18, 6, _amount(group.taxable_minor, cur), align="R")
        pdf.cell(width * 0.18, 6, _amount(group.tax_minor, cur), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    totals = [("Subtotal", doc.net_minor), ("Tax", doc.tax_minor), ("Total", doc.total_minor)]
    if doc.document_type == "invoice":
        if doc.credited_minor:
            totals.append(("Credited", -doc.credited_minor))
        if doc.paid_minor:
            totals.append(("Paid", -doc.paid_minor))
        totals.append(("Balance due", doc.due_minor))
    for label, minor in totals:
        bold = label in ("Total", "Balance due")
        pdf.set_font("Helvetica", "B" if bold else "", 11 if bold else 10)
        pdf.cell(width * 0.64, 7, "")
        pdf.cell(width * 0.18, 7, label)
        pdf.cell(width * 0.18, 7, _amount(minor, cur), align="R", new_x="LMARGIN", new_y="NEXT")

    pdf.ln(4)
    pdf.set_font("Helvetica", "", 9)
    if doc.document_type == "invoice":
        means = []
        if doc.payment.terms:
            means.append(doc.payment.terms)
        if doc.payment.iban:
            means.append(
                f"Bank transfer: IBAN {doc.payment.iban}" + (f", BIC {doc.payment.bic}" if doc.payment.bic else "")
            )
        if doc.payment.card_url:
            means.append(f"Pay by card: {doc.payment.card_url}")
        for row in means:
            pdf.multi_cell(width, 5, _latin1(row), new_x="LMARGIN", new_y="NEXT")
    if doc.notes:
        pdf.ln(3)
        pdf.set_font("Helvetica", "I", 9)
        for note in doc.notes:
            pdf.multi_cell(width, 5, _latin1(note), new_x="LMARGIN", new_y="NEXT")
    if doc.public_url:
        pdf.ln(6)
        pdf.set_font("Helvetica", "", 9)
        pdf.set_text_color(107, 114, 128)
        pdf.multi_cell(width, 5, f"View and pay this invoice online: {doc.public_url}")
    return bytes(pdf.output())


async def render_invoice_pdf_for(session: AsyncSession, *, invoice: Invoice, settings: Settings) -> bytes:
    """Load the document (billflow.services.documents), then render."""
    return await render_number_pdf(session, number=invoice.number, settings=settings)


async def render_number_pdf(session: AsyncSession, *, number: str, settings: Settings) -> bytes:
    """The PDF of the invoice or credit note with this number."""
    from billflow.services.documents import load_document

    return render_document_pdf(await load_document(session, number=number, settings=settings))
