"""OASIS UBL 2.1 from the EN 16931 model, with lxml: Peppol BIS Billing 3.0 and XRechnung UBL.

No maintained UBL writer exists on PyPI (checked: the UBL packages there are JSON converters or Odoo add-ons),
so this module writes the elements in the order the UBL 2.1 XSD requires; the tests validate every document
kind against that XSD and the CEN EN 16931 Schematron. A credit note is a UBL CreditNote (positive amounts).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from lxml import etree

from billflow.einvoice.model import DocumentType, EInvoice, Line, Party, TaxCategory

_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_ROOT = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}


class UblProfile(StrEnum):
    """BT-24 specification identifiers."""

    peppol = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    xrechnung = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


_PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"  # BT-23


def _cbc(parent: etree._Element, tag: str, text: object, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{_CBC}}}{tag}", attrs)
    node.text = str(text)
    return node


def _cac(parent: etree._Element, tag: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{_CAC}}}{tag}")


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    node = _cac(_cac(parent, tag), "Party")
    if party.endpoint_id and party.endpoint_scheme:
        _cbc(node, "EndpointID", party.endpoint_id, schemeID=party.endpoint_scheme)
    if party.trading_name:
        _cbc(_cac(node, "PartyName"), "Name", party.trading_name)
    address = _cac(node, "PostalAddress")
    if party.address.line1:
        _cbc(address, "StreetName", party.address.line1)
    if party.address.line2:
        _cbc(address, "AdditionalStreetName", party.address.line2)
    if party.address.city:
        _cbc(address, "CityName", party.address.city)
    if party.address.postcode:
        _cbc(address, "PostalZone", party.address.postcode)
    if party.address.country:
        _cbc(_cac(address, "Country"), "IdentificationCode", party.address.country)
    for company_id, scheme in ((party.vat_id, "VAT"), (party.tax_registration_id, "FC")):
        if company_id:
            tax_scheme = _cac(node, "PartyTaxScheme")
            _cbc(tax_scheme, "CompanyID", company_id)
            _cbc(_cac(tax_scheme, "TaxScheme"), "ID", scheme if scheme == "VAT" else "LOC")
    legal = _cac(node, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    if party.legal_registration_id:
        _cbc(legal, "CompanyID", party.legal_registration_id)
    if party.contact_name or party.phone or party.email:
        contact = _cac(node, "Contact")
        if party.contact_name:
            _cbc(contact, "Name", party.contact_name)
        if party.phone:
            _cbc(contact, "Telephone", party.phone)
        if party.email:
            _cbc(contact, "ElectronicMail", party.email)


def _tax_category(parent: etree._Element, tag: str, category: TaxCategory, rate: Decimal) -> etree._Element:
    node = _cac(parent, tag)
    _cbc(node, "ID", category.value)
    if category is not TaxCategory.not_subject:
        _cbc(node, "Percent", rate.quantize(Decimal("0.01")))
    return node


def _line(root: etree._Element, doc: EInvoice, line: Line, *, credit: bool) -> None:
    currency = {"currencyID": doc.currency}
    node = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(node, "ID", line.id)
    _cbc(node, "CreditedQuantity" if credit else "InvoicedQuantity", line.quantity.normalize(), unitCode=line.unit_code)
    _cbc(node, "LineExtensionAmount", doc.amount(line.net_minor), **currency)
    if line.period_start and line.period_end:
        period = _cac(node, "InvoicePeriod")
        _cbc(period, "StartDate", line.period_start.isoformat())
        _cbc(period, "EndDate", line.period_end.isoformat())
    item = _cac(node, "Item")
    _cbc(item, "Name", line.description)
    category = _tax_category(item, "ClassifiedTaxCategory", line.category, line.rate)
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")
    _cbc(_cac(node, "Price"), "PriceAmount", doc.amount(line.unit_price_minor), **currency)


def build_ubl(doc: EInvoice, *, profile: UblProfile = UblProfile.peppol) -> bytes:
    """A UBL Invoice (380, 386) or CreditNote (381) as UTF-8 XML."""
    credit = doc.type_code is DocumentType.credit_note
    kind = "CreditNote" if credit else "Invoice"
    root = etree.Element(f"{{{_ROOT[kind]}}}{kind}", nsmap={None: _ROOT[kind], "cac": _CAC, "cbc": _CBC})
    currency = {"currencyID": doc.currency}
    _cbc(root, "CustomizationID", profile.value)
    _cbc(root, "ProfileID", _PEPPOL_PROCESS)
    _cbc(root, "ID", doc.number)
    _cbc(root, "IssueDate", doc.issue_date.isoformat())
    if doc.due_date and not credit:  # a UBL 2.1 CreditNote has no header due date: see PaymentMeans
        _cbc(root, "DueDate", doc.due_date.isoformat())
    _cbc(root, f"{kind}TypeCode", doc.type_code.value)
    for text in doc.notes:
        _cbc(root, "Note", text)
    _cbc(root, "DocumentCurrencyCode", doc.currency)
    if doc.buyer_reference:
        _cbc(root, "BuyerReference", doc.buyer_reference)
    if doc.period_start and doc.period_end:
        period = _cac(root, "InvoicePeriod")
        _cbc(period, "StartDate", doc.period_start.isoformat())
        _cbc(period, "EndDate", doc.period_end.isoformat())
    if doc.order_reference:
        _cbc(_cac(root, "OrderReference"), "ID", doc.order_reference)
    for preceding in doc.preceding:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", preceding.number)
        if preceding.issue_date:
            _cbc(reference, "IssueDate", preceding.issue_date.isoformat())
    _party(root, "AccountingSupplierParty", doc.seller)
    _party(root, "AccountingCustomerParty", doc.buyer)
    if doc.delivery_date or doc.deliver_to_country:
        delivery = _cac(root, "Delivery")
        if doc.delivery_date:
            _cbc(delivery, "ActualDeliveryDate", doc.delivery_date.isoformat())
        if doc.deliver_to_country:
            address = _cac(_cac(delivery, "DeliveryLocation"), "Address")
            _cbc(_cac(address, "Country"), "IdentificationCode", doc.deliver_to_country)
    for means in doc.payment_means:
        node = _cac(root, "PaymentMeans")
        attrs = {"name": means.information} if means.information else {}
        _cbc(node, "PaymentMeansCode", means.code.value, **attrs)
        if credit and doc.due_date:
            _cbc(node, "PaymentDueDate", doc.due_date.isoformat())
        if means.remittance:
            _cbc(node, "PaymentID", means.remittance)
        if means.iban:
            account = _cac(node, "PayeeFinancialAccount")
            _cbc(account, "ID", means.iban)
            if means.account_name:
                _cbc(account, "Name", means.account_name)
            if means.bic:
                _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", means.bic)
    if doc.payment_terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", doc.payment_terms)

    tax_total = _cac(root, "TaxTotal")
    _cbc(tax_total, "TaxAmount", doc.amount(doc.tax_total_minor), **currency)
    for row in doc.tax_breakdown:
        subtotal = _cac(tax_total, "TaxSubtotal")
        _cbc(subtotal, "TaxableAmount", doc.amount(row.taxable_minor), **currency)
        _cbc(subtotal, "TaxAmount", doc.amount(row.tax_minor), **currency)
        category = _tax_category(subtotal, "TaxCategory", row.category, row.rate)
        if row.exemption_reason_code:
            _cbc(category, "TaxExemptionReasonCode", row.exemption_reason_code)
        if row.exemption_reason:
            _cbc(category, "TaxExemptionReason", row.exemption_reason)
        _cbc(_cac(category, "TaxScheme"), "ID", "VAT")

    totals = _cac(root, "LegalMonetaryTotal")
    _cbc(totals, "LineExtensionAmount", doc.amount(doc.line_total_minor), **currency)
    _cbc(totals, "TaxExclusiveAmount", doc.amount(doc.line_total_minor), **currency)
    _cbc(totals, "TaxInclusiveAmount", doc.amount(doc.grand_total_minor), **currency)
    if doc.prepaid_minor:
        _cbc(totals, "PrepaidAmount", doc.amount(doc.prepaid_minor), **currency)
    _cbc(totals, "PayableAmount", doc.amount(doc.due_minor), **currency)
    for line in doc.lines:
        _line(root, doc, line, credit=credit)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
