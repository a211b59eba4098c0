"""The document PDF and the Factur-X file: Unicode text prints as itself with embedded fonts, the CII inside is
the valid one, PDF/A-3 is declared, and the pages are rendered to PNG (written to tmp for a person to look at)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from facturx import get_xml_from_pdf
from pypdf import PdfReader

from billflow.einvoice.facturx_pdf import render_facturx
from billflow.einvoice.validation import validate_cii
from billflow.pdf import render_document_pdf
from tests.einvoice.documents import kinds, line, make_document

KINDS = kinds()


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _fonts(pdf: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor, f"{font['/BaseFont']} is not embedded"
            names.add(str(font["/BaseFont"]).split("+")[-1])
    return names


GERMAN_POLISH = "Übersetzung für Paweł \u2013 €, £ und ¥"  # an en dash too


def test_unicode_text_and_currency_signs_print_as_themselves() -> None:
    doc = make_document(
        buyer=KINDS["jpy"].buyer,
        lines=[
            line(1, 5_000, description=GERMAN_POLISH),
            line(2, 1_000, description="日本語の名前"),
        ],
    )
    text = _text(render_document_pdf(doc))
    for expected in (
        "Atelier Łódź GmbH",
        "山田太郎商店",
        GERMAN_POLISH,
        "日本語の名前",
        "€50.00",
    ):
        assert expected in text
    assert _fonts(render_document_pdf(doc)) == {"DejaVuSansBook", "DejaVuSansBold", "IPAexGothic"}


@pytest.mark.parametrize(("kind", "shown"), [("jpy", "¥16,817"), ("gbp_zero_rated", "£75.00"), ("invoice", "€357.00")])
def test_amounts_carry_the_currency_sign_and_its_decimals(kind: str, shown: str) -> None:
    assert shown in _text(render_document_pdf(KINDS[kind]))


@pytest.mark.parametrize(("locale", "shown"), [("de_DE", "357,00\xa0€"), ("en_GB", "€357.00"), ("en_US", "€357.00")])
def test_amounts_follow_the_issuing_workspaces_locale(locale: str, shown: str) -> None:
    text = _text(render_document_pdf(KINDS["invoice"], locale=locale))
    assert shown in text
    assert "Issue date" in text  # the labels stay English, the dates ISO


def test_latin_documents_embed_only_the_small_latin_font() -> None:
    assert _fonts(render_document_pdf(KINDS["invoice"])) == {"DejaVuSansBook", "DejaVuSansBold"}


def test_greek_and_cyrillic_fall_back_to_the_full_font() -> None:
    doc = make_document(lines=[line(1, 1_000, description="Σεμινάριο / Семинар")])
    pdf = render_document_pdf(doc)
    assert "Σεμινάριο / Семинар" in _text(pdf)
    assert "DejaVuSansBook" in _fonts(pdf)


def test_same_document_renders_the_same_pages() -> None:
    """The bytes differ only in the XMP modification time fpdf2 stamps; what is printed is the same (and a
    rendered file is stored and served as it is: billflow.services.document_files)."""
    first, second = (render_document_pdf(KINDS["several_rates"]) for _ in range(2))
    assert _text(first) == _text(second) and len(first) == len(second)


@pytest.mark.parametrize("kind", ["invoice", "credit_note", "deposit", "final_after_deposit", "reverse_charge", "jpy"])
def test_factur_x_pdf_carries_the_valid_cii_and_declares_pdf_a_3(kind: str) -> None:
    pdf = render_facturx(KINDS[kind], invoice_url="https://billflow.test/i/token")
    filename, xml = get_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    assert validate_cii(xml).fatal == []
    metadata = PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in metadata and b"<pdfaid:conformance>B</pdfaid:conformance>" in metadata
    assert b"/OutputIntents" in pdf
    root = PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    (spec,) = [ref.get_object() for ref in root["/AF"]]  # PDF/A-3 associated file, declared as the data
    assert spec["/F"] == "factur-x.xml" and spec["/AFRelationship"] == "/Data"


def test_credit_note_and_deposit_titles_and_references_print() -> None:
    credit = _text(render_document_pdf(KINDS["credit_note"]))
    assert "CREDIT NOTE" in credit and "Corrects invoice" in credit and "INV-2026-000001 of 2026-12-01" in credit
    final = _text(render_document_pdf(KINDS["final_after_deposit"]))
    assert "Deposit paid" in final and "-€357.00" in final and "Amount due" in final and "€833.00" in final
    assert "DEPOSIT INVOICE" in _text(render_document_pdf(KINDS["deposit"]))


def test_logo_is_drawn(tmp_path: Path) -> None:
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 40), (220, 38, 38)).save(logo)
    with_logo = render_document_pdf(KINDS["invoice"], logo=logo)
    assert b"/Subtype /Image" in with_logo and b"/Subtype /Image" not in render_document_pdf(KINDS["invoice"])


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
@pytest.mark.parametrize("kind", ["several_rates", "jpy", "final_after_deposit", "credit_note", "reverse_charge"])
def test_pages_render_to_png(kind: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Poppler draws every page; the PNGs stay in pytest's tmp dir (printed with -s) for a person to look at."""
    out = tmp_path_factory.mktemp("pages") / kind
    pdf = out.with_suffix(".pdf")
    pdf.write_bytes(render_facturx(KINDS[kind], invoice_url="https://billflow.test/i/token"))
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(out)], check=True, timeout=60)
    pages = sorted(out.parent.glob(f"{kind}-*.png"))
    assert pages and all(page.stat().st_size > 5_000 for page in pages)
    print(f"{kind}: {', '.join(map(str, pages))}")


def test_a_long_document_breaks_into_numbered_pages() -> None:
    long_text = "Workshop facilitation, preparation and follow-up notes for the leadership offsite " * 2
    doc = make_document(lines=[line(i, 1_000 + i, description=f"{i}. {long_text}") for i in range(1, 41)])
    pdf = render_document_pdf(doc)
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) >= 2
    assert f"1/{len(pages)}" in pages[0].extract_text() and f"{len(pages)}/{len(pages)}" in pages[-1].extract_text()
    assert "Description" in pages[1].extract_text()  # the table's heading repeats on the next page
    assert "Total" in pages[-1].extract_text()


@pytest.mark.parametrize("count", range(8, 15))
def test_totals_never_split_across_pages(count: int) -> None:
    """Whatever the number of lines, the totals block stays whole on one page, below the last line."""
    doc = make_document(lines=[line(i, 1_000, description=f"Session {i}\nwith notes") for i in range(1, count + 1)])
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(render_document_pdf(doc))).pages]
    holding = [text for text in pages if "Net amount" in text]
    assert len(holding) == 1 and "Total" in holding[0] and "VAT BREAKDOWN" in holding[0]


def test_a_read_only_temp_dir_falls_back_to_the_full_fonts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import billflow.pdf_fonts as pdf_module

    blocked = tmp_path / "no-write"
    blocked.mkdir()
    blocked.chmod(0o500)
    monkeypatch.setattr(pdf_module.tempfile, "gettempdir", lambda: str(blocked / "sub"))
    monkeypatch.setattr(pdf_module, "_write_cut", lambda *a: (_ for _ in ()).throw(PermissionError("read-only")))
    pdf_module._latin.cache_clear()
    try:
        text = _text(render_document_pdf(KINDS["several_rates"]))
    finally:
        pdf_module._latin.cache_clear()
    assert "Atelier Łódź GmbH" in text and "€234.94" in text
