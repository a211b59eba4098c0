"""An issued invoice's files from the database: valid e-invoices, rendered once per document version, served
by the staff API and the client's page, attached in the client's format."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from facturx import get_xml_from_pdf
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.einvoice.validation import validate_cii, validate_ubl
from billflow.repositories import clients as clients_repo
from billflow.repositories import rendered_documents as rendered_repo
from billflow.services import api_keys, document_files
from billflow.services.client_documents import DocumentSettingsChange, update_document_settings
from billflow.services.invoicing import issue_invoice
from billflow.web.app import create_app
from models.api_keys import ApiRole
from models.einvoice import DocumentFormat, FileKind
from models.invoices import Invoice
from models.workflow_io import LineIn
from models.workspaces import WorkspaceUpdate
from tests.einvoice.documents import BUSINESS
from tests.factories import make_booking, make_client


@pytest.fixture
def doc_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=BUSINESS)


async def _issue(db: Database, **booking: object) -> Invoice:
    values: dict[str, object] = {
        "currency": "EUR",
        "issued_at": datetime(2026, 12, 1, 9, tzinfo=UTC),
        "client": make_client(name="Zoë Müller-Kowalski", timezone="Europe/Berlin"),
        "lines": [
            LineIn(
                description="Beratung (Stunden)", quantity=Decimal("2.5"), unit_price_minor=12_000, tax_rate_bp=1900
            ),
            LineIn(description="Fachbuch", unit_price_minor=2_499, tax_rate_bp=700),
        ],
    }
    booking_in = make_booking(**(values | booking))
    async with db.session() as session:
        return await issue_invoice(session, booking=booking_in, workflow_id=booking_in.workflow_id)


@pytest.fixture
async def invoice(db: Database) -> Invoice:
    return await _issue(db)


async def _file(db: Database, settings: Settings, invoice: Invoice, kind: FileKind) -> document_files.DocumentFile:
    async with db.session() as session:
        return await document_files.document_file(session, invoice=invoice, settings=settings, kind=kind)


async def test_invoice_from_the_database_is_valid_factur_x(
    db: Database, doc_settings: Settings, invoice: Invoice
) -> None:
    pdf = await _file(db, doc_settings, invoice, FileKind.pdf)
    _, xml = get_xml_from_pdf(pdf.content, check_xsd=False)
    assert validate_cii(xml).fatal == []
    assert f"<ram:ID>{invoice.number}</ram:ID>".encode() in xml


@pytest.mark.parametrize("kind", [FileKind.peppol, FileKind.cii])
async def test_invoice_from_the_database_is_valid_in_every_xml_format(
    db: Database, doc_settings: Settings, invoice: Invoice, kind: FileKind
) -> None:
    file = await _file(db, doc_settings, invoice, kind)
    report = validate_ubl(file.content) if kind is FileKind.peppol else validate_cii(file.content)
    assert report.fatal == []


async def test_jpy_invoice_from_the_database_is_valid(db: Database, doc_settings: Settings) -> None:
    invoice = await _issue(
        db, currency="JPY", lines=[LineIn(description="翻訳", unit_price_minor=12_345, tax_rate_bp=1000)]
    )
    file = await _file(db, doc_settings, invoice, FileKind.peppol)
    assert validate_ubl(file.content).fatal == []
    assert b'<cbc:PayableAmount currencyID="JPY">13580</cbc:PayableAmount>' in file.content


async def test_each_file_is_rendered_once_per_document_version(
    db: Database, doc_settings: Settings, invoice: Invoice, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[FileKind] = []
    real = document_files.render_file

    def counting(doc, kind, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kind)
        return real(doc, kind, **kwargs)

    monkeypatch.setattr(document_files, "render_file", counting)
    first = await _file(db, doc_settings, invoice, FileKind.pdf)
    # a second worker racing on the same version, then three later readers (reminders, the page, the API)
    racing = await asyncio.gather(*(_file(db, doc_settings, invoice, FileKind.pdf) for _ in range(2)))
    later = [await _file(db, doc_settings, invoice, FileKind.pdf) for _ in range(3)]
    assert len(calls) <= 3 and calls.count(FileKind.pdf) == len(calls)
    assert all(f.content == first.content for f in later)
    assert all(f.content == first.content for f in racing)  # a racer serves the stored file, not its own
    assert invoice.id is not None
    async with db.session() as session:
        assert await rendered_repo.count_rendered(session, invoice_id=invoice.id) == 1
    calls.clear()
    for _ in range(3):
        await _file(db, doc_settings, invoice, FileKind.pdf)
    assert calls == []  # stored: never rendered again

    # A new version (a logo added) renders once more.
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (90, 30), (37, 99, 235)).save(logo)
    with_logo = doc_settings.model_copy(update={"business_logo": logo})
    await _file(db, with_logo, invoice, FileKind.pdf)
    await _file(db, with_logo, invoice, FileKind.pdf)
    assert calls == [FileKind.pdf]


async def test_the_issuing_workspaces_logo_is_printed_and_is_a_new_version(
    db: Database, doc_settings: Settings, invoice: Invoice
) -> None:
    """Settings > Business profile stores the logo on the workspace: its documents print it."""
    import io

    from PIL import Image

    from billflow.services import workspaces

    without = await _file(db, doc_settings, invoice, FileKind.pdf)
    assert b"/Subtype /Image" not in without.content
    png = io.BytesIO()
    Image.new("RGB", (90, 30), (220, 38, 38)).save(png, format="PNG")
    await workspaces.update_workspace(db, invoice.workspace_id, WorkspaceUpdate(), logo=png.getvalue())
    try:
        with_logo = await _file(db, doc_settings, invoice, FileKind.pdf)
        assert b"/Subtype /Image" in with_logo.content
    finally:
        await workspaces.update_workspace(db, invoice.workspace_id, WorkspaceUpdate(), clear_logo=True)
    assert (await _file(db, doc_settings, invoice, FileKind.pdf)).content == without.content  # stored version


async def _set_format(db: Database, invoice: Invoice, fmt: DocumentFormat, reference: str | None = None) -> None:
    async with db.session() as session:
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
        assert client is not None
        change = DocumentSettingsChange(einvoice_format=fmt, buyer_reference=reference)
        await update_document_settings(session, client.external_id, change)


@pytest.mark.parametrize(
    ("fmt", "names"),
    [
        (DocumentFormat.pdf, [".pdf"]),
        (DocumentFormat.facturx, [".pdf"]),
        (DocumentFormat.xrechnung, [".pdf", ".xrechnung.xml"]),
        (DocumentFormat.peppol, [".pdf", ".peppol.xml"]),
    ],
)
async def test_issue_email_carries_the_clients_format(
    db: Database, doc_settings: Settings, invoice: Invoice, fmt: DocumentFormat, names: list[str]
) -> None:
    await _set_format(db, invoice, fmt, "04011000-1234512345-06" if fmt is DocumentFormat.xrechnung else None)
    async with db.session() as session:
        issue = await document_files.attachments_for(
            session, invoice=invoice, settings=doc_settings, with_einvoice=True
        )
        reminder = await document_files.attachments_for(
            session, invoice=invoice, settings=doc_settings, with_einvoice=False
        )
    assert [f.filename for f in issue] == [invoice.number + suffix for suffix in names]
    assert [f.filename for f in reminder] == [f"{invoice.number}.pdf"]
    for file in issue[1:]:
        assert validate_ubl(file.content).fatal == []
        if fmt is DocumentFormat.xrechnung:
            assert b"<cbc:BuyerReference>04011000-1234512345-06</cbc:BuyerReference>" in file.content


async def test_xrechnung_needs_the_leitweg_id(db: Database, invoice: Invoice) -> None:
    from billflow.services.client_documents import DocumentSettingsRefused

    with pytest.raises(DocumentSettingsRefused, match="BR-DE-15") as refused:
        await _set_format(db, invoice, DocumentFormat.xrechnung)
    assert refused.value.field == "buyer_reference"


async def test_without_a_business_profile_the_pdf_still_renders_and_xml_is_refused(
    db: Database, settings: Settings, invoice: Invoice
) -> None:
    pdf = await _file(db, settings, invoice, FileKind.pdf)
    assert pdf.content.startswith(b"%PDF-")
    with pytest.raises(document_files.DocumentInvalid, match=r"BR-09: seller\.address\.country"):
        await _file(db, settings, invoice, FileKind.peppol)


@pytest.fixture
async def http(doc_settings: Settings, db: Database, time_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(doc_settings, db, time_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as client:
        yield client


async def _headers(db: Database, role: ApiRole) -> dict[str, str]:
    token = (await api_keys.create_key(db, api_keys.NewApiKey(name="docs", role=role))).token
    return {"Authorization": f"Bearer {token}"}


async def test_staff_api_downloads_every_format(http: httpx.AsyncClient, db: Database, invoice: Invoice) -> None:
    headers = await _headers(db, ApiRole.viewer)
    url = f"/v1/invoices/{invoice.number}/document"
    pdf = await http.get(url, headers=headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert get_xml_from_pdf(pdf.content, check_xsd=False)[0] == "factur-x.xml"
    peppol = await http.get(url, params={"format": "peppol"}, headers=headers)
    assert peppol.status_code == 200 and peppol.headers["content-type"].startswith("application/xml")
    assert f'filename="{invoice.number}.peppol.xml"' in peppol.headers["content-disposition"]
    # XRechnung without the client's Leitweg-ID: 409 naming the rule; unknown format: 422; unknown invoice: 404
    refused = await http.get(url, params={"format": "xrechnung"}, headers=headers)
    assert refused.status_code == 409 and "BR-DE-15" in refused.json()["detail"]
    assert (await http.get(url, params={"format": "docx"}, headers=headers)).status_code == 422
    assert (await http.get("/v1/invoices/INV-1999-000001/document", headers=headers)).status_code == 404
    assert (await http.get(url)).status_code == 401


async def test_client_page_serves_the_factur_x_pdf_and_xml(http: httpx.AsyncClient, invoice: Invoice) -> None:
    pdf = await http.get(f"/i/{invoice.public_token}/pdf")
    assert pdf.status_code == 200 and get_xml_from_pdf(pdf.content, check_xsd=False)[0] == "factur-x.xml"
    cii = await http.get(f"/i/{invoice.public_token}/document/cii")
    assert cii.status_code == 200 and validate_cii(cii.content).fatal == []
    assert (await http.get(f"/i/{invoice.public_token}/document/nonsense")).status_code == 404
    assert (await http.get(f"/i/{'x' * 32}/document/pdf")).status_code == 404


async def test_client_format_is_chosen_through_the_api(http: httpx.AsyncClient, db: Database, invoice: Invoice) -> None:
    async with db.session() as session:
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    staff = await _headers(db, ApiRole.staff)
    url = f"/v1/clients/{client.external_id}/documents"
    refused = await http.patch(url, json={"einvoice_format": "xrechnung"}, headers=staff)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "buyer_reference"]
    chosen = await http.patch(
        url, json={"einvoice_format": "xrechnung", "buyer_reference": "991-01234-44"}, headers=staff
    )
    assert chosen.status_code == 200 and chosen.json()["einvoice_format"] == "xrechnung"
    assert (await http.get(url, headers=staff)).json()["buyer_reference"] == "991-01234-44"
    viewer = await _headers(db, ApiRole.viewer)
    assert (await http.patch(url, json={"einvoice_format": "pdf"}, headers=viewer)).status_code == 403


async def test_invoice_page_links_the_e_invoice_files(http: httpx.AsyncClient, db: Database, invoice: Invoice) -> None:
    await _set_format(db, invoice, DocumentFormat.peppol)
    page = await http.get(f"/i/{invoice.public_token}")
    assert page.status_code == 200
    for kind in ("cii", "peppol"):
        link = f"/i/{invoice.public_token}/document/{kind}"
        assert f'href="{link}"' in page.text
        assert (await http.get(link)).status_code == 200
    assert "/document/xrechnung" not in page.text


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, doc_settings: Settings) -> Iterator[None]:
    from billflow.config import get_settings

    assert doc_settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", doc_settings.database_url)
    for name, value in BUSINESS.items():
        monkeypatch.setenv(f"BILLFLOW_{name.upper()}", value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _cli(*args: str) -> Result:
    from typer.testing import CliRunner

    from starter.cli import app as cli

    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def test_cli_writes_the_file_and_sets_the_format(
    cli_env: None, db: Database, invoice: Invoice, tmp_path: Path
) -> None:
    target = tmp_path / "out.xml"
    written = await _cli("invoice", "document", invoice.number, "--format", "peppol", "--output", str(target))
    assert written.exit_code == 0, written.output
    assert validate_ubl(target.read_bytes()).fatal == []
    refused = await _cli("invoice", "document", invoice.number, "-f", "xrechnung", "-o", str(target))
    assert refused.exit_code == 2 and "BR-DE-15" in refused.output
    assert (await _cli("invoice", "document", "INV-1999-000001")).exit_code == 1
    async with db.session() as session:
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    needs_reference = await _cli("client", "documents", client.external_id, "--format", "xrechnung")
    assert needs_reference.exit_code == 2 and "Leitweg-ID" in needs_reference.output
    chosen = await _cli(
        "client", "documents", client.external_id, "--format", "xrechnung", "--buyer-reference", "991-1"
    )
    assert chosen.exit_code == 0 and "xrechnung" in chosen.output
    assert (await _cli("invoice", "document", invoice.number, "-f", "xrechnung", "-o", str(target))).exit_code == 0
