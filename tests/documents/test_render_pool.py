"""Document files render in the worker's render processes as they do in a thread; Latin-only documents never
need the Japanese font cut."""

from __future__ import annotations

import io
import os
import signal

import pytest
from pypdf import PdfReader

from billflow import pdf_fonts, render_pool
from billflow.einvoice.files import render_file
from models.einvoice import FileKind
from tests.einvoice.documents import make_document


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _pid() -> int:
    return os.getpid()


async def test_render_process_makes_the_document_a_thread_makes() -> None:
    doc = make_document()
    in_thread = await render_pool.render(render_file, doc, FileKind.pdf, invoice_url="http://example.test/i/t")
    with render_pool.started(1):
        in_process = await render_pool.render(render_file, doc, FileKind.pdf, invoice_url="http://example.test/i/t")
        assert await render_pool.render(_pid) != os.getpid()  # rendered elsewhere, not in this process
    assert in_process.filename == in_thread.filename == f"{doc.number}.pdf"
    assert _text(in_process.content) == _text(in_thread.content)
    assert doc.number in _text(in_process.content)


async def test_a_dead_render_process_is_replaced() -> None:
    with render_pool.started(1):
        pid = await render_pool.render(_pid)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(render_pool.BrokenProcessPool):
            await render_pool.render(_pid)
        assert await render_pool.render(_pid) not in (pid, os.getpid())  # the next document renders again


def test_latin_document_never_cuts_the_japanese_font(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("the Japanese cut was made for a Latin-only document")

    monkeypatch.setattr(pdf_fonts, "_japanese_common", refuse)
    assert render_file(make_document(), FileKind.pdf).content.startswith(b"%PDF")
