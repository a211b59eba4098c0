"""Documents (issue 14): credit notes (list, show, issue a partial one), the final invoice of a deposit, and every
document as the data its PDF and e-invoice are made from."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from billflow.services import billing_details, corrections, credit_notes, deposits, documents
from billflow.web.auth import AUTH_RESPONSES, StaffDep, ViewerDep
from billflow.web.deps import DatabaseDep, SessionDep, SettingsDep, TemporalDep
from billflow.web.scope import DocumentScope
from models.documents import InvoiceDocument
from models.money import MAX_MINOR

# Routes naming a document answer only for the key's workspace (billflow/web/scope.py).
router = APIRouter(tags=["documents"], responses=AUTH_RESPONSES, dependencies=[DocumentScope])

NumberPath = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$", examples=["INV-2026-000042"])
]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="the same key credits once"),
]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No document with this number"}}


class CreditNoteIn(BaseModel):
    amount_minor: int = Field(gt=0, le=MAX_MINOR, description="gross amount to credit, in minor units")
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00]*$")


class FinalInvoiceStarted(BaseModel):
    deposit_number: str
    workflow_id: str


@router.get("/v1/credit-notes", summary="List credit notes (newest first)")
async def list_credit_notes(
    session: SessionDep,
    principal: ViewerDep,
    invoice: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9._-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[credit_notes.CreditNoteSummary]:
    return await credit_notes.list_credit_notes(
        session, invoice_number=invoice, limit=limit, offset=offset, workspace_id=principal.workspace_id
    )


@router.get("/v1/documents/{number}", summary="An invoice or credit note as issued", responses=NOT_FOUND)
async def show_document(
    number: NumberPath, session: SessionDep, settings: SettingsDep, _: ViewerDep
) -> InvoiceDocument:
    try:
        return await documents.load_document(session, number=number, settings=settings)
    except documents.DocumentNotFound as err:
        raise HTTPException(404, str(err)) from None


@router.get(
    "/v1/documents/{number}/pdf",
    summary="An invoice or credit note as PDF",
    responses={**NOT_FOUND, 200: {"content": {"application/pdf": {}}}},
    response_class=Response,
)
async def document_pdf(number: NumberPath, session: SessionDep, settings: SettingsDep, _: ViewerDep) -> Response:
    from billflow.services.document_files import number_pdf

    try:
        file = await number_pdf(session, number=number, settings=settings)
    except documents.DocumentNotFound as err:
        raise HTTPException(404, str(err)) from None
    return Response(
        file.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )


@router.post(
    "/v1/invoices/{number}/credit-notes",
    status_code=201,
    summary="Issue a partial credit note (a correction; the invoice itself never changes)",
    responses={**NOT_FOUND, 422: {"description": "The amount cannot be credited (the rule and field are named)"}},
)
async def credit_invoice(
    number: NumberPath,
    body: CreditNoteIn,
    db: DatabaseDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    _: StaffDep,
    key: IdempotencyKey = None,
) -> credit_notes.CreditNoteSummary:
    try:
        note = await corrections.credit_invoice(
            db,
            temporal,
            settings,
            number=number,
            amount_minor=body.amount_minor,
            reason=body.reason,
            request_id=key or uuid.uuid4().hex,
        )
    except corrections.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None
    except credit_notes.CreditNoteRefused as err:
        raise HTTPException(422, str(err)) from None
    return credit_notes.CreditNoteSummary(
        number=note.number,
        invoice_number=number,
        kind=note.kind,  # type: ignore[arg-type]
        reason=note.reason,
        currency=note.currency,
        subtotal_minor=note.subtotal_minor,
        tax_minor=note.tax_minor,
        total_minor=note.total_minor,
        issue_date=note.issue_date,
        refund_reference=note.refund_reference,
    )


@router.post(
    "/v1/invoices/{number}/final-invoice",
    status_code=202,
    summary="Issue the final invoice of a deposit invoice (the deposit deducted); once per booking",
    responses={**NOT_FOUND, 422: {"description": "Not a deposit invoice, or it is void"}},
)
async def issue_final_invoice(
    number: NumberPath, db: DatabaseDep, temporal: TemporalDep, settings: SettingsDep, _: StaffDep
) -> FinalInvoiceStarted:
    try:
        workflow_id = await deposits.issue_final_invoice(
            db, temporal, deposit_number=number, task_queue=settings.task_queue
        )
    except deposits.DepositNotFound as err:
        raise HTTPException(404, str(err)) from None
    except deposits.FinalInvoiceRefused as err:
        raise HTTPException(422, str(err)) from None
    return FinalInvoiceStarted(deposit_number=number, workflow_id=workflow_id)


@router.patch(
    "/v1/clients/{external_id}/billing",
    summary="The client's billing details (buyer block of the next invoices; issued ones keep theirs)",
    responses={404: {"description": "No client with this external id"}},
)
async def update_billing(
    external_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00]*$")],
    body: billing_details.BillingDetails,
    session: SessionDep,
    principal: StaffDep,
) -> billing_details.BillingView:
    try:
        return await billing_details.update_billing(
            session, external_id=external_id, change=body, actor=principal.actor, workspace_id=principal.workspace_id
        )
    except billing_details.ClientNotFound as err:
        raise HTTPException(404, str(err)) from None
    except billing_details.AmbiguousClient as err:
        raise HTTPException(409, str(err)) from None
