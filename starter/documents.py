"""`billflow credit-note ...` and `billflow document ...`: credit notes (list, show, issue a partial one), the
final invoice of a deposit, and any document as issued (`--pdf FILE` writes its PDF)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from models.enums import BuyerKind
from starter.common import (
    JsonOption,
    LazyModule,
    console,
    database,
    fail,
    format_money,
    get_settings,
    print_json,
    run,
    temporal_client,
)

if TYPE_CHECKING:
    from billflow.services import billing_details, corrections, credit_notes, deposits, documents
    from models.documents import InvoiceDocument
else:  # imported when a command runs, not when `billflow invoice ...` loads this module
    billing_details = LazyModule("billflow.services.billing_details")
    corrections = LazyModule("billflow.services.corrections")
    credit_notes = LazyModule("billflow.services.credit_notes")
    deposits = LazyModule("billflow.services.deposits")
    documents = LazyModule("billflow.services.documents")

app = typer.Typer(no_args_is_help=True)
document_app = typer.Typer(no_args_is_help=True)

NumberArg = Annotated[str, typer.Argument(help="Invoice or credit note number, e.g. INV-2026-000042.")]


@app.command("list")
def list_notes(
    invoice: Annotated[str | None, typer.Option(help="Only the credit notes of this invoice.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: bool = JsonOption,
) -> None:
    """Credit notes, newest first."""
    from pydantic_core import to_jsonable_python

    from starter import reads
    from starter.reads import credit_notes as credit_note_reads

    with reads.connection() as conn:  # psycopg alone; the rows have CreditNoteSummary's keys (issue 11, item 15)
        notes = credit_note_reads.credit_notes(conn, invoice_number=invoice, limit=limit)
    if as_json:
        print_json(to_jsonable_python(notes))  # what the summaries' model_dump(mode="json") gives
        return
    table = Table("number", "invoice", "kind", "issued", "total", "reason")
    for n in notes:
        table.add_row(
            n["number"],
            n["invoice_number"],
            n["kind"],
            n["issue_date"].isoformat(),
            format_money(n["total_minor"], n["currency"]),
            n["reason"],
        )
    console.print(table)


@app.command()
def show(number: NumberArg, as_json: bool = JsonOption) -> None:
    """A credit note as issued (lines, VAT breakdown, the invoice it corrects)."""
    _show_light(number, as_json)


@app.command("issue")
def issue(
    invoice: Annotated[str, typer.Argument(help="The invoice to correct, e.g. INV-2026-000042.")],
    amount: Annotated[int, typer.Option(min=1, help="Gross amount to credit, in minor units (cents).")],
    reason: Annotated[str, typer.Option(help="Why; printed on the credit note.")],
    request_id: Annotated[str | None, typer.Option(help="Repeat safely: the same id credits once.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Issue a partial credit note against an invoice (the invoice itself never changes)."""
    run(_issue(invoice, amount, reason, request_id or uuid.uuid4().hex, as_json))


async def _issue(invoice: str, amount: int, reason: str, request_id: str, as_json: bool) -> None:
    settings = get_settings()
    temporal = await temporal_client(settings)
    async with database(settings) as db:
        try:
            note = await corrections.credit_invoice(
                db, temporal, settings, number=invoice, amount_minor=amount, reason=reason, request_id=request_id
            )
        except corrections.InvoiceNotFound as err:
            fail(str(err))
        except credit_notes.CreditNoteRefused as err:
            fail(str(err), code=2)
    if as_json:
        print_json({"number": note.number, "invoice": invoice, "total_minor": note.total_minor})
        return
    console.print(f"Credit note [bold]{note.number}[/] for {invoice}: {format_money(note.total_minor, note.currency)}")


@document_app.command("show")
def show_document(
    number: NumberArg,
    pdf: Annotated[Path | None, typer.Option(help="Also write the PDF to this file.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Any invoice or credit note as issued: seller, buyer, lines, VAT breakdown, references, payment means."""
    if pdf is None:
        _show_light(number, as_json)
        return
    run(_show(number, as_json, pdf=pdf))


def _show_light(number: str, as_json: bool) -> None:
    """The document from psycopg rows, built by the services' own builder (issue 11, item 15)."""
    from starter import common, reads
    from starter.reads import credit_notes as credit_note_reads

    settings = common.get_settings()  # through the module: tests replace it there
    with reads.connection() as conn, common.validation_failures():
        doc = credit_note_reads.document(conn, number=number, settings=settings)
    if doc is None:
        fail(f"no invoice or credit note {number}")  # services.documents.DocumentNotFound's words
    print_document(doc, as_json)


async def _show(number: str, as_json: bool, *, pdf: Path) -> None:
    from billflow.services.document_files import number_pdf

    settings = get_settings()
    async with database(settings) as db, db.session() as session:
        try:
            doc = await documents.load_document(session, number=number, settings=settings)
            # the stored file of this version (rendered now only if nothing sent it yet)
            content = (await number_pdf(session, number=number, settings=settings)).content
        except documents.DocumentNotFound as err:
            fail(str(err))
    await asyncio.to_thread(pdf.write_bytes, content)
    print_document(doc, as_json)


def print_document(doc: InvoiceDocument, as_json: bool) -> None:
    if as_json:
        print_json(doc)
        return
    kind = "credit note" if doc.document_type == "credit_note" else f"{doc.invoice_kind.value} invoice"
    console.print(f"[bold]{doc.number}[/] ({kind}) issued {doc.issue_date}")
    console.print(f"From: {doc.seller.legal_name or doc.seller.name}  VAT id: {doc.seller.vat_id or '-'}")
    console.print(f"To:   {doc.buyer.legal_name or doc.buyer.name}  VAT id: {doc.buyer.vat_id or '-'}")
    for ref in doc.references:
        console.print(f"Refers to {ref.kind} {ref.number} of {ref.issue_date}")
    lines = Table("#", "description", "qty", "unit", "net", "tax")
    for line in doc.lines:
        lines.add_row(
            str(line.position),
            line.description,
            str(line.quantity.normalize()),
            format_money(line.unit_price_minor, doc.currency),
            format_money(line.net_minor, doc.currency),
            f"{line.tax.category.code} {line.tax.rate_bp / 100:g} %",
        )
    console.print(lines)
    groups = Table("category", "rate", "taxable", "VAT")
    for row in doc.tax_breakdown:
        groups.add_row(
            row.category.value + (f" ({row.exemption_reason})" if row.exemption_reason else ""),
            f"{row.rate_bp / 100:g} %",
            format_money(row.taxable_minor, doc.currency),
            format_money(row.tax_minor, doc.currency),
        )
    console.print(groups)
    console.print(
        f"Total {format_money(doc.total_minor, doc.currency)} (VAT {format_money(doc.tax_minor, doc.currency)})"
    )
    for note in doc.notes:
        console.print(f"[dim]{note}[/]")


def issue_final(
    number: Annotated[str, typer.Argument(help="The deposit invoice, e.g. INV-2026-000042.")],
    as_json: bool = JsonOption,
) -> None:
    """Issue the final invoice of a booking with a deposit: every line, the deposit deducted (once per booking)."""
    run(_issue_final(number, as_json))


async def _issue_final(number: str, as_json: bool) -> None:
    settings = get_settings()
    temporal = await temporal_client(settings)
    async with database(settings) as db:
        try:
            workflow_id = await deposits.issue_final_invoice(
                db, temporal, deposit_number=number, task_queue=settings.task_queue
            )
        except deposits.DepositNotFound as err:
            fail(str(err))
        except deposits.FinalInvoiceRefused as err:
            fail(str(err), code=2)
    if as_json:
        print_json({"deposit_number": number, "workflow_id": workflow_id})
        return
    console.print(f"Final invoice for deposit {number}: workflow [bold]{workflow_id}[/]")


def client_billing(
    external_id: Annotated[str, typer.Argument(help="The client's external id.")],
    kind: Annotated[BuyerKind | None, typer.Option(help="business or consumer")] = None,
    address: Annotated[str | None, typer.Option(help="Street address (one line).")] = None,
    postcode: Annotated[str | None, typer.Option()] = None,
    city: Annotated[str | None, typer.Option()] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166 alpha-2, e.g. DE.")] = None,
    vat_id: Annotated[str | None, typer.Option(help="EU VAT id, e.g. FR40303265045.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Set the client's billing details, printed in the buyer block of its next invoices."""
    given = {"kind": kind, "address_line1": address, "postcode": postcode, "city": city, "country": country}
    given["vat_id"] = vat_id
    run(_billing(external_id, {k: v for k, v in given.items() if v is not None}, as_json))


async def _billing(external_id: str, values: dict[str, object], as_json: bool) -> None:
    change = billing_details.BillingDetails.model_validate(values)  # inside run(): a bad VAT id is a clear error
    async with database() as db, db.session() as session:
        try:
            view = await billing_details.update_billing(session, external_id=external_id, change=change, actor="cli")
        except (billing_details.ClientNotFound, billing_details.AmbiguousClient) as err:
            fail(str(err))
    if as_json:
        print_json(view)
        return
    console.print(f"[bold]{view.name}[/] ({view.kind.value}) VAT id {view.vat_id or '-'}, {view.country or '-'}")
