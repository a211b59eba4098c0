"""The fonts parsed once per process (billflow.pdf_fonts._add_font) print the same pages as fpdf2's own add_font,
and one document's glyphs never leak into the next one's embedded subset."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from billflow import pdf_fonts
from billflow.pdf import render_document_pdf
from tests.einvoice.documents import kinds, line, make_document

KINDS = kinds()


def _embedded_cmaps(pdf: bytes) -> dict[str, set[int]]:
    """Per embedded font (by base name), the code points its embedded subset can draw."""
    found: dict[str, set[int]] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            data = descriptor["/FontFile2"].get_object().get_data()
            found[str(font["/BaseFont"]).split("+")[-1]] = set(TTFont(io.BytesIO(data)).getBestCmap())
    return found


def _pages(pdf: bytes, out: Path) -> list[str]:
    out.with_suffix(".pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(out.with_suffix(".pdf")), str(out)], check=True, timeout=60)
    return [hashlib.sha256(page.read_bytes()).hexdigest() for page in sorted(out.parent.glob(f"{out.name}-*.png"))]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
@pytest.mark.parametrize("kind", ["invoice", "several_rates", "jpy", "jpy_credit_note", "gbp_zero_rated"])
def test_parsed_once_fonts_draw_the_same_pages_as_fpdf2_add_font(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = _pages(render_document_pdf(KINDS[kind]), tmp_path / "cached")
    monkeypatch.setattr(pdf_fonts, "_add_font", lambda pdf, family, style, path: pdf.add_font(family, style, path))
    assert cached == _pages(render_document_pdf(KINDS[kind]), tmp_path / "parsed")


def test_a_documents_subset_holds_only_its_own_glyphs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parsed font is shared between documents; the glyphs a document uses must not be: after a document
    with Greek, Cyrillic and Vietnamese, a plain one embeds exactly what fpdf2's own add_font would."""
    render_document_pdf(make_document(lines=[line(1, 100, description="Ωmega Жук Nguyễn ¾ q")]))
    plain = make_document(lines=[line(1, 100, description="abc")])
    cached = _embedded_cmaps(render_document_pdf(plain))
    monkeypatch.setattr(pdf_fonts, "_add_font", lambda pdf, family, style, path: pdf.add_font(family, style, path))
    assert cached == _embedded_cmaps(render_document_pdf(plain))
    assert ord("Ω") not in cached["DejaVuSansBook"] and ord("¾") not in cached["DejaVuSansBook"]
    assert "DejaVuSans" not in cached  # the full font is a fallback only for documents that need it


def test_japanese_text_after_latin_documents_still_embeds_its_kanji() -> None:
    for _ in range(2):
        render_document_pdf(KINDS["invoice"])
    fonts = _embedded_cmaps(render_document_pdf(KINDS["jpy"]))
    assert {ord("翻"), ord("訳")} <= fonts["IPAexGothic"]
