"""A client's statement of account as a PDF (fpdf2), for the client portal: every invoice with its balance,
the credit notes and payments that reduced them, and the balance due per currency."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from babel.numbers import format_decimal, get_currency_precision
from fpdf import FPDF

from models.clients import Client
from models.credit_notes import CreditNote
from models.enums import UNSETTLED_STATUSES
from models.invoices import Invoice
from models.payments import Payment


def _latin1(text: str) -> str:
    """Core PDF fonts: accents folded, anything else outside Latin-1 replaced (names stay readable)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return folded.encode("latin-1", errors="replace").decode("latin-1")


def _amount(minor: int, currency: str) -> str:
    """`1,234.50 GBP`: the ISO code, never a symbol the core fonts may lack."""
    digits = get_currency_precision(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return f"{format_decimal(Decimal(minor).scaleb(-digits), format=pattern, locale='en_US')} {currency}"


def render_statement_pdf(
    *,
    client: Client,
    invoices: Sequence[Invoice],
    payments: Sequence[Payment],
    business_name: str,
    as_of: datetime,
    credit_notes: Sequence[tuple[CreditNote, str]] = (),
) -> bytes:
    """`credit_notes`: each with the number of the invoice it credits (invoice balances already net them)."""
    pdf = FPDF(format="A4")
    pdf.set_title(f"Statement of account, {_latin1(client.name)}")
    pdf.set_author(_latin1(business_name))
    pdf.set_creation_date(as_of)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(width / 2, 10, _latin1(business_name))
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width / 2, 10, "STATEMENT OF ACCOUNT", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(
        width,
        6,
        f"{_latin1(client.name)} <{_latin1(client.email)}>, as of {as_of:%Y-%m-%d}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(6)
    columns = (
        ("Invoice", 0.24, "L"),
        ("Issued", 0.15, "L"),
        ("Due", 0.15, "L"),
        ("Status", 0.14, "L"),
        ("Total", 0.16, "R"),
        ("Balance", 0.16, "R"),
    )
    _header(pdf, width, columns)
    due: dict[str, int] = defaultdict(int)
    for invoice in invoices:
        open_balance = invoice.balance_minor if invoice.status in UNSETTLED_STATUSES else 0
        due[invoice.currency] += open_balance
        cells = (
            invoice.number,
            invoice.issue_date.isoformat(),
            invoice.due_date.isoformat(),
            invoice.status.replace("_", " "),
            _amount(invoice.total_minor, invoice.currency),
            _amount(open_balance, invoice.currency),
        )
        for value, (_, share, align) in zip(cells, columns, strict=True):
            pdf.cell(width * share, 7, value, align=align, border="B")
        pdf.ln()
    pdf.ln(6)
    if credit_notes:
        note_columns = (
            ("Credit note", 0.24, "L"),
            ("Issued", 0.15, "L"),
            ("For invoice", 0.45, "L"),
            ("Amount", 0.16, "R"),
        )
        _header(pdf, width, note_columns)
        for note, invoice_number in credit_notes:
            row = (note.number, note.issue_date.isoformat(), invoice_number, _amount(note.total_minor, note.currency))
            for value, (_, share, align) in zip(row, note_columns, strict=True):
                pdf.cell(width * share, 7, value, align=align, border="B")
            pdf.ln()
        pdf.ln(6)
    if payments:
        pay_columns = (("Received", 0.25, "L"), ("Kind", 0.2, "L"), ("Method", 0.3, "L"), ("Amount", 0.25, "R"))
        _header(pdf, width, pay_columns)
        for p in payments:
            paid = (f"{p.received_at:%Y-%m-%d}", p.kind, _latin1(p.method), _amount(p.amount_minor, p.currency))
            for value, (_, share, align) in zip(paid, pay_columns, strict=True):
                pdf.cell(width * share, 7, value, align=align, border="B")
            pdf.ln()
        pdf.ln(6)
    pdf.set_font("Helvetica", "B", 11)
    for currency, amount in sorted(due.items()):
        pdf.cell(width, 7, f"Balance due: {_amount(amount, currency)}", align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _header(pdf: FPDF, width: float, columns: Sequence[tuple[str, float, str]]) -> None:
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_fill_color(243, 244, 246)
    for title, share, align in columns:
        pdf.cell(width * share, 8, title, align=align, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
