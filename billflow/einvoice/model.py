"""The EN 16931 document: one pure-pydantic model that every output (CII, UBL, the PDF) is generated from.

Independent of the database: built from the document as issued (billflow.einvoice.from_document), and testable
alone. Money stays integer minor units; the generators write decimals.
Business term numbers (BT-n / BG-n) name the EN 16931 semantic fields each attribute carries.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum

from babel.numbers import get_currency_precision
from pydantic import BaseModel, Field, computed_field, field_validator, model_validator

from models.money import CurrencyCode

# Characters XML 1.0 cannot carry (C0 controls but tab, newline and return; non-characters; lone surrogates).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class _Text(BaseModel):
    """Every text of the document is made safe for XML (and for the PDF's fonts) as it enters the model: a
    control character pasted into a booking cannot make a file fail to render."""

    @field_validator("*", mode="before")
    @classmethod
    def _xml_safe(cls, value: object) -> object:
        if isinstance(value, str):
            cleaned = _NOT_XML.sub("", value.replace("\t", " "))
            return cleaned if cleaned or not value else "\ufffd"  # nothing but controls: visibly unreadable
        if isinstance(value, list):
            return [cls._xml_safe(item) for item in value]
        if isinstance(value, dict):
            return {key: cls._xml_safe(item) for key, item in value.items()}
        return value


class DocumentType(StrEnum):
    """UNTDID 1001 document type codes (BT-3)."""

    invoice = "380"
    credit_note = "381"
    prepayment = "386"  # advance-payment (deposit) invoice


class TaxCategory(StrEnum):
    """UNCL 5305 VAT category codes as EN 16931 restricts them (BT-118, BT-151)."""

    standard = "S"
    zero = "Z"
    exempt = "E"
    reverse_charge = "AE"
    intra_community = "K"  # intra-community supply (VAT exempt in the EEA)
    export = "G"  # export outside the EU
    not_subject = "O"  # services outside the scope of VAT

    @property
    def has_rate(self) -> bool:
        return self in (TaxCategory.standard, TaxCategory.zero)


# The legal notes a category needs when the business gives none (BT-120 text, BT-121 VATEX code).
DEFAULT_EXEMPTION = {
    TaxCategory.exempt: ("Exempt from VAT", None),
    TaxCategory.reverse_charge: (
        "Reverse charge: VAT to be paid by the recipient (art. 196 2006/112/EC)",
        "VATEX-EU-AE",
    ),
    TaxCategory.intra_community: ("Intra-community supply (art. 138 2006/112/EC)", "VATEX-EU-IC"),
    TaxCategory.export: ("Export outside the EU (art. 146 2006/112/EC)", "VATEX-EU-G"),
    TaxCategory.not_subject: ("Not subject to VAT", "VATEX-EU-O"),
}


class PaymentMeansCode(StrEnum):
    """UNTDID 4461 (BT-81)."""

    credit_transfer = "30"
    sepa_credit_transfer = "58"
    card = "54"
    online = "68"  # online payment service (the pay link)


class Address(_Text):
    line1: str | None = None  # BT-35 / BT-50
    line2: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)  # ISO 3166-1 alpha-2 (BT-40 / BT-55)


class Party(_Text):
    name: str = Field(min_length=1)  # BT-27 / BT-44
    trading_name: str | None = None
    address: Address
    vat_id: str | None = None  # BT-31 / BT-48, with its country prefix
    tax_registration_id: str | None = None  # BT-32: a local tax number when there is no VAT id
    legal_registration_id: str | None = None  # BT-30 / BT-47
    email: str | None = None
    phone: str | None = None
    contact_name: str | None = None
    # BT-34 / BT-49 electronic address with its EAS scheme ("EM" email, "9930" German VAT, "0088" GLN, ...).
    endpoint_id: str | None = None
    endpoint_scheme: str | None = None


class Line(_Text):
    id: str  # BT-126
    description: str = Field(min_length=1)  # BT-153 item name
    quantity: Decimal  # BT-129
    unit_code: str = "C62"  # BT-130, UN/ECE rec 20 ("C62" one, "HUR" hour)
    unit_price_minor: int = Field(ge=0)  # BT-146 net price
    net_minor: int  # BT-131: quantity x price after line allowances, as billed
    tax_minor: int = 0  # the tax billflow charged on this line (the breakdown sums it per rate)
    category: TaxCategory = TaxCategory.standard  # BT-151
    rate: Decimal = Decimal(0)  # BT-152, percent
    period_start: date | None = None  # BT-134
    period_end: date | None = None


class TaxSubtotal(_Text):
    """One row of the VAT breakdown (BG-23)."""

    category: TaxCategory
    rate: Decimal
    taxable_minor: int  # BT-116
    tax_minor: int  # BT-117
    exemption_reason: str | None = None  # BT-120
    exemption_reason_code: str | None = None  # BT-121


class PaymentMeans(_Text):
    code: PaymentMeansCode = PaymentMeansCode.sepa_credit_transfer
    iban: str | None = None  # BT-84
    bic: str | None = None  # BT-86
    account_name: str | None = None  # BT-85
    remittance: str | None = None  # BT-83: what the payer quotes (the invoice number)
    information: str | None = None  # BT-82 (the pay link)


class PrecedingInvoice(_Text):
    """BG-3: the invoice a credit note corrects, or the deposit invoice a final invoice deducts."""

    number: str
    issue_date: date | None = None


class EInvoice(_Text):
    number: str = Field(min_length=1)  # BT-1
    type_code: DocumentType = DocumentType.invoice  # BT-3
    issue_date: date  # BT-2
    due_date: date | None = None  # BT-9
    currency: CurrencyCode  # BT-5
    seller: Party  # BG-4
    buyer: Party  # BG-7
    lines: list[Line] = Field(min_length=1)  # BG-25
    buyer_reference: str | None = None  # BT-10 (the Leitweg-ID for German public buyers)
    order_reference: str | None = None  # BT-13
    preceding: list[PrecedingInvoice] = Field(default_factory=list)  # BG-3
    delivery_date: date | None = None  # BT-72 date of supply
    deliver_to_country: str | None = Field(default=None, min_length=2, max_length=2)  # BT-80
    period_start: date | None = None  # BG-14 invoicing period
    period_end: date | None = None
    payment_means: list[PaymentMeans] = Field(default_factory=list)  # BG-16
    payment_terms: str | None = None  # BT-20
    prepaid_minor: int = Field(default=0, ge=0)  # BT-113: the deposit already paid, deducted here
    notes: list[str] = Field(default_factory=list)  # BT-22
    # Exemption / reverse-charge notes per category, overriding DEFAULT_EXEMPTION (BT-120).
    exemption_reasons: dict[TaxCategory, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _expressible(self) -> EInvoice:
        # EN 16931 amounts carry at most two decimals: a 3-decimal currency (KWD, BHD) cannot be written.
        if get_currency_precision(self.currency) > 2:
            raise ValueError(f"currency: {self.currency} has more than two decimals, which EN 16931 cannot carry")
        return self

    # --- derived totals (BG-22) ---

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tax_breakdown(self) -> list[TaxSubtotal]:
        groups: dict[tuple[TaxCategory, Decimal], list[Line]] = {}
        for line in self.lines:
            groups.setdefault((line.category, line.rate.normalize()), []).append(line)
        rows = []
        for (category, rate), members in sorted(groups.items(), key=lambda kv: (kv[0][0].value, kv[0][1])):
            reason, code = None, None
            if not category.has_rate:
                reason, code = DEFAULT_EXEMPTION[category]
                reason = self.exemption_reasons.get(category, reason)
            rows.append(
                TaxSubtotal(
                    category=category,
                    rate=rate,
                    taxable_minor=sum(m.net_minor for m in members),
                    tax_minor=sum(m.tax_minor for m in members),
                    exemption_reason=reason,
                    exemption_reason_code=code,
                )
            )
        return rows

    @computed_field  # type: ignore[prop-decorator]
    @property
    def line_total_minor(self) -> int:  # BT-106
        return sum(line.net_minor for line in self.lines)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tax_total_minor(self) -> int:  # BT-110
        return sum(row.tax_minor for row in self.tax_breakdown)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def grand_total_minor(self) -> int:  # BT-112
        return self.line_total_minor + self.tax_total_minor

    @computed_field  # type: ignore[prop-decorator]
    @property
    def due_minor(self) -> int:  # BT-115
        return self.grand_total_minor - self.prepaid_minor

    @property
    def digits(self) -> int:
        return get_currency_precision(self.currency)

    def amount(self, minor: int) -> Decimal:
        """Minor units as the decimal the XML carries (JPY: no decimals)."""
        return Decimal(minor).scaleb(-self.digits).quantize(Decimal(1).scaleb(-self.digits))

    def problems(self) -> list[str]:
        """EN 16931 business rules this document breaks, each naming the rule and the field (empty: valid).

        Checked before any XML is written, so a document that cannot be valid is refused with a reason."""
        found: list[str] = []
        if not self.seller.address.country:
            found.append("BR-09: seller.address.country is required (BILLFLOW_BUSINESS_COUNTRY)")
        if not self.buyer.address.country:
            found.append("BR-11: buyer.address.country is required")
        categories = {line.category for line in self.lines}
        seller_tax_id = self.seller.vat_id or self.seller.tax_registration_id
        for line in self.lines:
            if line.category.has_rate is False and line.rate != 0:
                found.append(f"BR-{line.category.value}-05: line {line.id}: rate must be 0 for {line.category.name}")
            if line.category is TaxCategory.standard and line.rate <= 0:
                found.append(f"BR-S-05: line {line.id}: a standard-rated line needs a rate above 0")
        if categories & {TaxCategory.standard, TaxCategory.zero, TaxCategory.exempt} and not seller_tax_id:
            found.append("BR-S-02: seller.vat_id is required for taxed, zero-rated or exempt lines")
        if categories & {TaxCategory.reverse_charge, TaxCategory.intra_community}:
            if not self.seller.vat_id:
                found.append("BR-AE-02: seller.vat_id is required under reverse charge / intra-community supply")
            if not self.buyer.vat_id:
                found.append("BR-AE-02: buyer.vat_id is required under reverse charge / intra-community supply")
        if TaxCategory.intra_community in categories and not (self.delivery_date or self.period_start):
            found.append("BR-IC-11: delivery_date or the invoicing period is required for an intra-community supply")
        if TaxCategory.intra_community in categories and not self.deliver_to_country:
            found.append("BR-IC-12: deliver_to_country is required for an intra-community supply")
        if TaxCategory.not_subject in categories and (self.seller.vat_id or self.buyer.vat_id):
            found.append("BR-O-02: no VAT ids may be given when the lines are not subject to VAT")
        if self.type_code is DocumentType.credit_note and not self.preceding:
            found.append("BR-55: a credit note must reference the invoice it corrects (preceding)")
        if self.prepaid_minor > self.grand_total_minor:
            found.append("BR-CO-16: prepaid_minor exceeds the invoice total")
        if (self.period_start is None) != (self.period_end is None):
            found.append("BR-29: the invoicing period needs both period_start and period_end")
        if self.period_start and self.period_end and self.period_end < self.period_start:
            found.append("BR-29: period_end is before period_start")
        return found
