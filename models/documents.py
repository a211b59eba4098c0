"""What a document (invoice, deposit invoice, final invoice, credit note) says, gathered in one place.

Pure pydantic: `billflow.services.documents.load_document` builds it from the database, the PDF and the page
render it, and the EN 16931 model (billflow/einvoice) is built from it. Amounts are minor units of `currency`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from models.enums import BuyerKind, CreditNoteKind, InvoiceKind, TaxCategory

# The legal notes printed for categories that carry no VAT (EN 16931 BT-120 exemption reason text).
REVERSE_CHARGE_NOTE = "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)"
ZERO_RATED_NOTE = "Zero-rated supply"


def check_vat_id(value: str) -> str:
    """An EU VAT id in its compact form; python-stdnum checks the country's format and check digits."""
    try:
        return str(eu_vat.compact(eu_vat.validate(value)))
    except StdnumError as err:
        raise ValueError(f"{value!r} is not a valid EU VAT id ({err})") from err


def check_country(value: str) -> str:
    """An ISO 3166-1 alpha-2 code (CLDR's territory list, via babel)."""
    from babel import Locale

    code = value.strip().upper()
    if len(code) != 2 or not code.isalpha() or code not in Locale("en").territories:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


class PostalAddress(BaseModel):
    line1: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2


class Party(BaseModel):
    """Seller or buyer as printed: a snapshot taken at issue, so a later edit of the client changes nothing."""

    name: str
    legal_name: str | None = None
    address: PostalAddress = Field(default_factory=PostalAddress)
    vat_id: str | None = None
    registration: str | None = None  # company registration (seller) or legal entity id
    email: str | None = None
    kind: BuyerKind = BuyerKind.business

    @classmethod
    def of_client(cls, client: Any) -> Party:
        """The buyer as the client's record (models.clients.Client, or a row with its columns) says today."""
        return cls(
            name=client.name,
            legal_name=client.name,
            address=PostalAddress(
                line1=client.address_line1, postcode=client.postcode, city=client.city, country=client.country
            ),
            vat_id=client.vat_id,
            email=client.email,
            kind=BuyerKind(client.kind) if client.kind else BuyerKind.consumer,
        )


class PaymentMeans(BaseModel):
    iban: str | None = None  # credit transfer (UNTDID 4461 code 58)
    bic: str | None = None
    card_url: str | None = None  # the pay link (card payment)
    terms: str | None = None  # "Payable within 14 days, by 2026-12-15"


class TaxLine(BaseModel):
    """How a line is taxed; the input of every document line and of the tax breakdown."""

    category: TaxCategory
    rate_bp: int  # basis points: 2000 = 20 %
    exemption_reason: str | None = None


class DocumentLine(BaseModel):
    position: int
    description: str
    quantity: Decimal
    unit_price_minor: int
    net_minor: int  # quantity x unit price, rounded: EN 16931 BT-131
    tax: TaxLine


class TaxBreakdown(BaseModel):
    """One VAT group (EN 16931 BG-23): the category and rate, the taxable sum and the VAT on it."""

    category: TaxCategory
    rate_bp: int
    taxable_minor: int
    tax_minor: int
    exemption_reason: str | None = None


class DocumentReference(BaseModel):
    """An earlier document this one refers to (the invoice a credit note corrects, the deducted deposit)."""

    kind: Literal["invoice", "deposit"]
    number: str
    issue_date: date
    amount_minor: int  # its gross total (credit notes: of the corrected invoice; deposits: deducted gross)


class InvoiceDocument(BaseModel):
    document_type: Literal["invoice", "credit_note"]
    invoice_kind: InvoiceKind = InvoiceKind.invoice  # for invoices
    credit_note_kind: CreditNoteKind | None = None  # for credit notes
    number: str
    issue_date: date
    issued_at: datetime
    currency: str
    seller: Party
    buyer: Party
    lines: list[DocumentLine]
    tax_breakdown: list[TaxBreakdown]
    net_minor: int  # sum of line net amounts (BT-106)
    tax_minor: int  # sum of the breakdown's VAT (BT-110)
    total_minor: int  # net + tax (BT-112)
    paid_minor: int = 0  # payments recorded so far (BT-113)
    credited_minor: int = 0  # credit notes issued against an invoice
    due_minor: int = 0  # what is still to pay (BT-115)
    due_date: date | None = None
    service_date: date | None = None  # date of supply (BT-72)
    period_start: date | None = None  # service period (BG-14)
    period_end: date | None = None
    payment: PaymentMeans = Field(default_factory=PaymentMeans)
    notes: list[str] = Field(default_factory=list)
    references: list[DocumentReference] = Field(default_factory=list)
    reason: str | None = None  # credit notes: why
    status: str | None = None
    public_url: str | None = None

    @property
    def type_code(self) -> str:
        """UNTDID 1001 (EN 16931 BT-3): 380 commercial invoice, 386 prepayment invoice, 381 credit note."""
        if self.document_type == "credit_note":
            return "381"
        return "386" if self.invoice_kind is InvoiceKind.deposit else "380"
