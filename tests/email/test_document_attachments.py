"""The worker's emails carry the client's document format, and each document is rendered once however many
emails carry it (today's issue email and every reminder used to render the PDF again)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.einvoice.validation import validate_ubl
from billflow.email import build_email_sender
from billflow.repositories import clients as clients_repo
from billflow.services import document_files
from billflow.services.invoice_runs import start_invoice
from models.enums import EmailKind
from models.workflow_io import SendEmailInput
from tests.einvoice.documents import BUSINESS
from tests.factories import make_booking, make_client
from tests.standins.fixtures import load_invoice, running_worker, wait_until
from tests.standins.sendgrid_api import SendGridStandIn
from workflows.invoice import InvoiceWorkflow


@pytest.fixture(autouse=True)
async def seller_workspace(db: Database) -> AsyncIterator[None]:
    """New invoices snapshot workspace 1 as their seller: make it the complete business of BUSINESS (a Peppol
    file needs the seller's VAT id), and put it back after."""
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate
    from tests.app.support import workspace_profile_kept

    fields = {k.removeprefix("business_"): v for k, v in BUSINESS.items() if k != "business_phone"}
    async with workspace_profile_kept(db):
        await workspaces.update_workspace(db, 1, WorkspaceUpdate(**fields))
        yield


async def test_issue_email_carries_peppol_ubl_and_the_pdf_is_rendered_once(
    time_env: WorkflowEnvironment,
    db: Database,
    sendgrid_settings: Settings,
    sendgrid_api: tuple[SendGridStandIn, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    standin, _ = sendgrid_api
    settings = sendgrid_settings.model_copy(update=BUSINESS)
    rendered: list[str] = []
    real = document_files.render_file

    def counting(doc, kind, **kwargs):  # type: ignore[no-untyped-def]
        rendered.append(kind.value)
        return real(doc, kind, **kwargs)

    monkeypatch.setattr(document_files, "render_file", counting)
    client = make_client()
    async with db.session() as session:  # a client known before its first booking, set to receive Peppol UBL
        client_id = await clients_repo.upsert_client(session, client=client, source="staff", actor="test")
        row = await clients_repo.get_client(session, client_id=client_id)
        assert row is not None
        row.einvoice_format = "peppol"
        session.add(row)
    async with running_worker(time_env.client, db, settings) as worker:
        handle = await start_invoice(
            time_env.client, make_booking(client=client, currency="EUR"), task_queue=worker.task_queue
        )

        async def issued() -> bool:
            state = await handle.query(InvoiceWorkflow.status)
            return state is not None and state.issued_email_sent

        await wait_until(issued, timeout=30)
        state = await handle.query(InvoiceWorkflow.status)
        assert state is not None
        invoice = await load_invoice(db, state.invoice_id)
    activities = EmailActivities(db, build_email_sender(settings), settings)
    for step in (1, 2, 3):
        await activities.send_invoice_email(
            SendEmailInput(invoice_id=invoice.id or 0, kind=EmailKind.reminder, idempotency_key=f"{invoice.id}:r{step}")
        )
    issue, *reminders = standin.mails
    files = {a["filename"]: base64.b64decode(a["content"]) for a in issue["attachments"]}
    assert sorted(files) == [f"{invoice.number}.pdf", f"{invoice.number}.peppol.xml"]
    assert validate_ubl(files[f"{invoice.number}.peppol.xml"]).fatal == []
    assert [[a["filename"] for a in mail["attachments"]] for mail in reminders] == [[f"{invoice.number}.pdf"]] * 3
    pdfs = {files[f"{invoice.number}.pdf"]} | {base64.b64decode(m["attachments"][0]["content"]) for m in reminders}
    assert len(pdfs) == 1  # the same stored bytes in every email
    assert sorted(rendered) == ["pdf", "peppol"]  # four emails, each file rendered once


async def test_credit_note_email_resends_and_downloads_render_its_pdf_once(
    db: Database,
    sendgrid_settings: Settings,
    sendgrid_api: tuple[SendGridStandIn, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The credit-note email, two more sends of it (the sweep re-sending, another worker), `document show` and
    the API all carry one stored PDF: rendered once, then read back."""
    from billflow.repositories import rendered_documents as rendered_repo
    from billflow.services import credit_notes
    from models.enums import CreditNoteKind
    from tests.documents.conftest import issue_directly

    standin, _ = sendgrid_api
    settings = sendgrid_settings.model_copy(update=BUSINESS)
    rendered: list[str] = []
    real = document_files.render_file

    def counting(doc, kind, **kwargs):  # type: ignore[no-untyped-def]
        rendered.append(f"{doc.number}:{kind.value}")
        return real(doc, kind, **kwargs)

    monkeypatch.setattr(document_files, "render_file", counting)
    invoice = await issue_directly(db, settings)
    assert invoice.id is not None
    async with db.session() as session:
        note = await credit_notes.issue_credit_note(
            session, invoice_id=invoice.id, kind=CreditNoteKind.partial, reason="one hour less",
            key=f"cache:{invoice.id}", amount_minor=1_000,
        )  # fmt: skip
    assert note is not None and note.id is not None
    activities = EmailActivities(db, build_email_sender(settings), settings)
    for attempt in range(3):  # separate messages (keys), as a re-send under a new row would be
        await activities.send_invoice_email(
            SendEmailInput(
                invoice_id=invoice.id,
                kind=EmailKind.credit_note,
                idempotency_key=f"{note.id}:cn:{attempt}",
                credit_note_id=note.id,
            )
        )
    async with db.session() as session:
        downloads = [await document_files.number_pdf(session, number=note.number, settings=settings) for _ in "ab"]
        stored = await rendered_repo.count_rendered(session, invoice_id=invoice.id, credit_note_id=note.id)
    sent = [base64.b64decode(m["attachments"][0]["content"]) for m in standin.mails[-3:]]
    assert [m["attachments"][0]["filename"] for m in standin.mails[-3:]] == [f"{note.number}.pdf"] * 3
    assert len(set(sent) | {d.content for d in downloads}) == 1  # the same bytes everywhere
    assert rendered == [f"{note.number}:pdf"] and stored == 1
