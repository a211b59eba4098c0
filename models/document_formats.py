"""The formats a document is sent and downloaded in: plain enums, importable without the tables (the CLI's
option types, issue 11 item 15)."""

from __future__ import annotations

from enum import StrEnum


class DocumentFormat(StrEnum):
    """What a client receives with the issue email (the `clients.einvoice_format` column)."""

    pdf = "pdf"  # the invoice PDF; it is a Factur-X PDF/A-3, so any reader can also take its data
    facturx = "facturx"  # the same Factur-X PDF, chosen explicitly (France, ZUGFeRD receivers in Germany)
    xrechnung = "xrechnung"  # XRechnung UBL XML (German public and B2B buyers), with the PDF as a copy
    peppol = "peppol"  # Peppol BIS Billing 3.0 UBL XML, with the PDF as a copy


class FileKind(StrEnum):
    """A downloadable file of a document (`GET /v1/invoices/{n}/document?format=...`)."""

    pdf = "pdf"  # Factur-X PDF/A-3 (CII embedded)
    cii = "cii"  # the Factur-X CII XML alone
    xrechnung = "xrechnung"  # XRechnung UBL
    xrechnung_cii = "xrechnung-cii"  # XRechnung CII
    peppol = "peppol"  # Peppol BIS Billing 3.0 UBL
