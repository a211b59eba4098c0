"""UN/CEFACT CII from the EN 16931 model, with drafthorse: Factur-X/ZUGFeRD (EN 16931 profile) and XRechnung CII.

A credit note is type 381 with positive amounts; a deposit invoice is type 386; a final invoice carries the
deposit as prepaid amount (BT-113) and references the deposit invoice (BT-25).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration, TradeParty
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem

from billflow.einvoice.model import EInvoice, Party, TaxCategory


class CiiProfile(StrEnum):
    """BT-24 specification identifiers."""

    factur_x = "urn:cen.eu:en16931:2017"
    xrechnung = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


_PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"  # BT-23, which XRechnung expects


def _party(target: TradeParty, party: Party, *, with_contact: bool) -> None:
    target.name = party.name
    if party.legal_registration_id:
        target.legal_organization.id = party.legal_registration_id
    if party.trading_name:
        target.legal_organization.trade_name = party.trading_name
    if with_contact and (party.contact_name or party.phone or party.email):
        target.contact.person_name = party.contact_name or party.name
        if party.phone:
            target.contact.telephone.number = party.phone
        if party.email:
            target.contact.email.address = party.email
    address = target.address
    if party.address.postcode:
        address.postcode = party.address.postcode
    if party.address.line1:
        address.line_one = party.address.line1
    if party.address.line2:
        address.line_two = party.address.line2
    if party.address.city:
        address.city_name = party.address.city
    if party.address.country:
        address.country_id = party.address.country
    if party.endpoint_id and party.endpoint_scheme:
        target.electronic_address.uri_ID = (party.endpoint_scheme, party.endpoint_id)
    if party.vat_id:
        target.tax_registrations.add(TaxRegistration(id=("VA", party.vat_id)))
    if party.tax_registration_id:
        target.tax_registrations.add(TaxRegistration(id=("FC", party.tax_registration_id)))


def _percent(rate: Decimal) -> Decimal:
    return rate.quantize(Decimal("0.01"))


def build_cii(doc: EInvoice, *, profile: CiiProfile = CiiProfile.factur_x) -> bytes:
    """The CrossIndustryInvoice XML (UTF-8). Not schema-checked here (tests do that, once, with the XSD)."""
    cii = Document()
    if profile is CiiProfile.xrechnung:
        cii.context.business_parameter.id = _PEPPOL_PROCESS
    cii.context.guideline_parameter.id = profile.value
    cii.header.id = doc.number
    cii.header.type_code = doc.type_code.value
    cii.header.issue_date_time = doc.issue_date
    for text in doc.notes:
        note = IncludedNote()
        note.content = text
        cii.header.notes.add(note)

    for line in doc.lines:
        item = LineItem()
        item.document.line_id = line.id
        item.product.name = line.description
        item.agreement.net.amount = doc.amount(line.unit_price_minor)
        item.delivery.billed_quantity = (line.quantity, line.unit_code)
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = line.category.value
        if line.category is not TaxCategory.not_subject:
            item.settlement.trade_tax.rate_applicable_percent = _percent(line.rate)
        if line.period_start and line.period_end:
            item.settlement.period.start = line.period_start
            item.settlement.period.end = line.period_end
        item.settlement.monetary_summation.total_amount = doc.amount(line.net_minor)
        cii.trade.items.add(item)

    agreement = cii.trade.agreement
    if doc.buyer_reference:
        agreement.buyer_reference = doc.buyer_reference
    _party(agreement.seller, doc.seller, with_contact=True)
    _party(agreement.buyer, doc.buyer, with_contact=False)
    if doc.order_reference:
        agreement.buyer_order.issuer_assigned_id = doc.order_reference

    delivery = cii.trade.delivery  # always present: the schema requires ApplicableHeaderTradeDelivery
    if doc.deliver_to_country:
        delivery.ship_to.address.country_id = doc.deliver_to_country
    if doc.delivery_date:
        delivery.event.occurrence = doc.delivery_date

    settlement = cii.trade.settlement
    remittance = next((m.remittance for m in doc.payment_means if m.remittance), None)
    if remittance:
        settlement.payment_reference = remittance
    settlement.currency_code = doc.currency
    for means in doc.payment_means:
        entry = PaymentMeans()
        entry.type_code = means.code.value
        if means.information:
            entry.information.add(means.information)
        if means.iban:
            entry.payee_account.iban = means.iban
            if means.account_name:
                entry.payee_account.account_name = means.account_name
        if means.bic:
            entry.payee_institution.bic = means.bic
        settlement.payment_means.add(entry)
    for row in doc.tax_breakdown:
        tax = ApplicableTradeTax()
        tax.calculated_amount = doc.amount(row.tax_minor)
        tax.type_code = "VAT"
        if row.exemption_reason:
            tax.exemption_reason = row.exemption_reason
        tax.basis_amount = doc.amount(row.taxable_minor)
        tax.category_code = row.category.value
        if row.exemption_reason_code:
            tax.exemption_reason_code = row.exemption_reason_code
        if row.category is not TaxCategory.not_subject:
            tax.rate_applicable_percent = _percent(row.rate)
        settlement.trade_tax.add(tax)
    if doc.period_start and doc.period_end:
        settlement.period.start = doc.period_start
        settlement.period.end = doc.period_end
    if doc.payment_terms or doc.due_date:
        terms = PaymentTerms()
        if doc.payment_terms:
            terms.description = doc.payment_terms
        if doc.due_date:
            terms.due = doc.due_date
        settlement.terms.add(terms)

    totals = settlement.monetary_summation
    totals.line_total = doc.amount(doc.line_total_minor)
    totals.tax_basis_total = (doc.amount(doc.line_total_minor), None)
    totals.tax_total = (doc.amount(doc.tax_total_minor), doc.currency)
    totals.grand_total = (doc.amount(doc.grand_total_minor), None)
    if doc.prepaid_minor:
        totals.prepaid_total = doc.amount(doc.prepaid_minor)
    totals.due_amount = doc.amount(doc.due_minor)
    if doc.preceding:
        first = doc.preceding[0]
        settlement.invoice_referenced_document.issuer_assigned_id = first.number
        if first.issue_date:
            settlement.invoice_referenced_document.issue_date_time = first.issue_date
    return bytes(cii.serialize(schema=None))
