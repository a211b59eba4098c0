"""The document as a PDF (fpdf2), drawn from the EN 16931 model: the human-readable half of the Factur-X file.

Unicode throughout, from fonts shipped in PyPI wheels (billflow.pdf_fonts), subset-embedded as PDF/A requires.
Rendered files are stored and served as they are (billflow.services.document_files), so a document's file never
changes once made.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos

from billflow.einvoice.model import DocumentType, EInvoice, Party, TaxCategory
from billflow.pdf_fonts import add_fonts
from models.money import format_money

_TITLES = {
    DocumentType.invoice: "INVOICE",
    DocumentType.credit_note: "CREDIT NOTE",
    DocumentType.prepayment: "DEPOSIT INVOICE",
}
_CATEGORY_LABELS = {
    TaxCategory.standard: "VAT",
    TaxCategory.zero: "VAT",  # printed with its rate: "VAT 0 %"
    TaxCategory.exempt: "Exempt",
    TaxCategory.reverse_charge: "Reverse charge",
    TaxCategory.intra_community: "Intra-EU supply",
    TaxCategory.export: "Export",
    TaxCategory.not_subject: "Not subject to VAT",
}
_INK = (31, 41, 55)
_MUTED = (107, 114, 128)
_RULE = (229, 231, 235)
_HEAD = (243, 244, 246)


DEFAULT_LOCALE = "en_US"


def _texts(doc: EInvoice, invoice_url: str | None, locale: str = DEFAULT_LOCALE) -> list[str]:
    """Everything the page may print (every string of the document, its link, an amount as the locale writes
    it: its separators and currency sign may need glyphs; the labels are ASCII)."""
    return [doc.model_dump_json(), invoice_url or "", format_money(-123456789, doc.currency, locale)]


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f} %"


def _address_lines(party: Party) -> list[str]:
    address = party.address
    city = " ".join(filter(None, (address.postcode, address.city)))
    return [line for line in (address.line1, address.line2, city, address.country) if line]


class _Pdf(FPDF):
    footer_text = ""

    # fpdf2 (2.8) switches to a fallback font inside a cell but then believes the cell's own font is still set
    # in the page, so the next cell's glyph ids were drawn with the fallback (garbled text after a Japanese
    # name). Re-selecting the font after every cell keeps the page and fpdf2 in step.
    def cell(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = super().cell(*args, **kwargs)
        self._reselect_font()
        return result

    def multi_cell(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = super().multi_cell(*args, **kwargs)
        self._reselect_font()
        return result

    def _reselect_font(self) -> None:
        if self._fallback_font_ids and self.font_family:
            family, style, size = self.font_family, self.font_style, self.font_size_pt
            self.font_family = ""
            self.set_font(family, style, size)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(*_MUTED)
        width = self.w - self.l_margin - self.r_margin
        self.cell(width * 0.85, 4, self.footer_text)
        self.cell(width * 0.15, 4, f"{self.page_no()}/{{nb}}", align="R")


def render_document_pdf(
    doc: EInvoice, *, logo: Path | None = None, invoice_url: str | None = None, locale: str = DEFAULT_LOCALE
) -> bytes:
    """The PDF (PDF/A-3b-ready: embedded fonts, sRGB output intent) of one document; amounts are formatted in
    `locale` (the issuing workspace's), dates stay ISO 8601 and the labels English."""
    pdf = _Pdf(format="A4", enforce_compliance="PDFA_3B")
    add_fonts(pdf, _texts(doc, invoice_url, locale))
    title = _TITLES[doc.type_code]
    pdf.set_title(f"{title.title()} {doc.number}")
    pdf.set_author(doc.seller.name)
    pdf.set_lang(locale.split("_")[0])  # the amounts' language; the labels are English
    # The document's date, not the rendering's, is its creation date.
    pdf.set_creation_date(datetime.combine(doc.issue_date, time(12), tzinfo=UTC))
    pdf.set_auto_page_break(auto=True, margin=22)
    seller = doc.seller
    pdf.footer_text = " · ".join(
        filter(
            None,
            [
                seller.name,
                ", ".join(_address_lines(seller)),
                seller.vat_id and f"VAT {seller.vat_id}",
                seller.legal_registration_id,
            ],
        )
    )
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_text_color(*_INK)

    # Header: logo and seller on the left, the document's title and number on the right.
    top = pdf.get_y()
    left_x = pdf.l_margin
    if logo is not None and logo.is_file():
        pdf.image(str(logo), x=left_x, y=top, h=16)
        pdf.set_xy(left_x, top + 18)
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(width * 0.6, 7, seller.trading_name or seller.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 8.5)
    pdf.set_text_color(*_MUTED)
    for text in [*_address_lines(seller), seller.email or ""]:
        if text:
            pdf.cell(width * 0.6, 4.2, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    after_seller = pdf.get_y()
    pdf.set_xy(left_x + width * 0.55, top)
    pdf.set_font("DejaVu", "B", 19)
    pdf.cell(width * 0.45, 9, title, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)
    pdf.set_font("DejaVu", "", 10.5)
    pdf.cell(width * 0.45, 6, doc.number, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(after_seller, pdf.get_y()) + 7)

    # Bill to (left) and the dates and references (right).
    block_top = pdf.get_y()
    pdf.set_font("DejaVu", "B", 8.5)
    pdf.set_text_color(*_MUTED)
    pdf.cell(width * 0.5, 5, "BILLED TO", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(width * 0.5, 5.2, doc.buyer.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 9)
    buyer_lines = _address_lines(doc.buyer)
    if doc.buyer.vat_id:
        buyer_lines.append(f"VAT {doc.buyer.vat_id}")
    if doc.buyer.email:
        buyer_lines.append(doc.buyer.email)
    for text in buyer_lines:
        pdf.cell(width * 0.5, 4.6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    after_buyer = pdf.get_y()

    facts: list[tuple[str, str]] = [("Issue date", _day(doc.issue_date))]
    if doc.due_date and doc.type_code is not DocumentType.credit_note:
        facts.append(("Due date", _day(doc.due_date)))
    if doc.period_start and doc.period_end:
        facts.append(("Service period", f"{_day(doc.period_start)} \u2013 {_day(doc.period_end)}"))
    elif doc.delivery_date:
        facts.append(("Date of supply", _day(doc.delivery_date)))
    if doc.buyer_reference:
        facts.append(("Your reference", doc.buyer_reference))
    for preceding in doc.preceding:
        label = "Corrects invoice" if doc.type_code is DocumentType.credit_note else "Deposit invoice"
        when = f" of {_day(preceding.issue_date)}" if preceding.issue_date else ""
        facts.append((label, f"{preceding.number}{when}"))
    pdf.set_y(block_top)
    for label, value in facts:
        pdf.set_x(left_x + width * 0.52)
        pdf.set_font("DejaVu", "B", 8.5)
        pdf.set_text_color(*_MUTED)
        pdf.cell(width * 0.2, 5, label)
        pdf.set_font("DejaVu", "", 9)
        pdf.set_text_color(*_INK)
        pdf.cell(width * 0.28, 5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(after_buyer, pdf.get_y()) + 8)

    money = lambda minor: format_money(minor, doc.currency, locale)  # noqa: E731
    pdf.set_draw_color(*_RULE)
    pdf.set_font("DejaVu", "", 9)
    with pdf.table(
        col_widths=(50, 10, 17, 11, 18),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=_heading_style(pdf),
        borders_layout="HORIZONTAL_LINES",
        cell_fill_color=_HEAD,
        cell_fill_mode=TableCellFillMode.NONE,
        line_height=5.2,
        padding=(1.6, 1.2),
    ) as table:
        table.row(["Description", "Qty", "Unit price", "VAT", "Amount"])
        for line in doc.lines:
            rate = _pct(line.rate) if line.category.has_rate else _CATEGORY_LABELS[line.category]
            table.row(
                [line.description, _qty(line.quantity), money(line.unit_price_minor), rate, money(line.net_minor)]
            )
    pdf.ln(5)

    # Totals on the right; the VAT breakdown per category and rate beneath the lines on the left. The two
    # columns are drawn side by side, so they start on a new page when they would not fit on this one.
    needed = 8 + 6.2 * 5 + 4.6 * len(doc.tax_breakdown)
    if pdf.get_y() + needed > pdf.h - pdf.b_margin:
        pdf.add_page()
    totals_top = pdf.get_y()
    pdf.set_font("DejaVu", "B", 8.5)
    pdf.set_text_color(*_MUTED)
    pdf.cell(width * 0.5, 5, "VAT BREAKDOWN", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)
    pdf.set_font("DejaVu", "", 8.5)
    for row in doc.tax_breakdown:
        label = (
            f"{_CATEGORY_LABELS[row.category]} {_pct(row.rate)}"
            if row.category.has_rate
            else _CATEGORY_LABELS[row.category]
        )
        pdf.cell(width * 0.2, 4.6, label)
        pdf.cell(width * 0.15, 4.6, f"on {money(row.taxable_minor)}", align="R")
        pdf.cell(width * 0.13, 4.6, money(row.tax_minor), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    after_breakdown = pdf.get_y()
    pdf.set_y(totals_top)
    totals: list[tuple[str, int, bool]] = [
        ("Net amount", doc.line_total_minor, False),
        ("VAT", doc.tax_total_minor, False),
        ("Total", doc.grand_total_minor, True),
    ]
    if doc.prepaid_minor:
        totals += [("Deposit paid", -doc.prepaid_minor, False), ("Amount due", doc.due_minor, True)]
    elif doc.type_code is DocumentType.credit_note:
        totals[-1] = ("Total credited", doc.grand_total_minor, True)
    for label, minor, bold in totals:
        pdf.set_x(left_x + width * 0.58)
        pdf.set_font("DejaVu", "B" if bold else "", 10.5 if bold else 9.5)
        pdf.cell(width * 0.2, 6.2, label)
        pdf.cell(width * 0.22, 6.2, money(minor), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(after_breakdown, pdf.get_y()) + 6)

    notes = [row.exemption_reason for row in doc.tax_breakdown if row.exemption_reason] + doc.notes
    if notes:
        pdf.set_font("DejaVu", "", 8.5)
        pdf.set_text_color(*_MUTED)
        for note in notes:
            pdf.multi_cell(width, 4.6, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)

    if doc.type_code is not DocumentType.credit_note:
        pdf.set_font("DejaVu", "B", 8.5)
        pdf.set_text_color(*_MUTED)
        pdf.cell(width, 5, "PAYMENT", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(*_INK)
        pdf.set_font("DejaVu", "", 9)
        if doc.payment_terms:
            pdf.multi_cell(width, 4.8, doc.payment_terms, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for means in doc.payment_means:
            if means.iban:
                parts = [f"Bank transfer to IBAN {_iban(means.iban)}", means.bic and f"BIC {means.bic}"]
                if means.remittance:
                    parts.append(f"reference {means.remittance}")
                pdf.multi_cell(width, 4.8, ", ".join(filter(None, parts)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if invoice_url:
            pdf.set_text_color(*_MUTED)
            pdf.multi_cell(width, 4.8, f"View and pay online: {invoice_url}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _heading_style(pdf: FPDF):  # type: ignore[no-untyped-def]
    from fpdf.fonts import FontFace

    return FontFace(family="DejaVu", emphasis="BOLD", size_pt=8.5, color=_MUTED, fill_color=_HEAD)


def _day(value: date) -> str:
    return value.isoformat()


def _iban(iban: str) -> str:
    compact = iban.replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
