"""Staff invoice endpoints: list and filter, detail, and the actions (each answered with the resulting state,
or 409 with the reason it does not apply)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Body, Header, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator
from temporalio.service import RPCError

from billflow.repositories.invoices import InvoiceFilter
from billflow.services import document_files, invoice_plans, invoice_runs, invoice_views, refunds, staff_actions
from billflow.services.api_keys import Principal
from billflow.web.auth import AUTH_RESPONSES, StaffDep, ViewerDep
from billflow.web.background_email import send_email_now
from billflow.web.deps import DatabaseDep, SettingsDep, StripeDep, TemporalDep
from billflow.web.reporting_zone import ZoneDep
from billflow.web.scope import DocumentScope
from models.booking_events import reject_nul
from models.einvoice import FileKind
from models.enums import EmailKind, InvoiceStatus
from models.money import MAX_MINOR
from models.workflow_io import (
    ExtendDueDate,
    InvoicePlan,
    InvoiceState,
    MarkPaid,
    PauseReminders,
    ResolveDispute,
    ResumeReminders,
    StaffAction,
    VoidInvoice,
    WriteOff,
)

# Every route answers only for the key's workspace (billflow/web/scope.py).
router = APIRouter(prefix="/v1/invoices", tags=["invoices"], responses=AUTH_RESPONSES, dependencies=[DocumentScope])

NumberPath = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$", examples=["INV-2026-000042"])
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="repeat a request safely: the same key is applied once (a new one is generated if absent)",
    ),
]
Note = Annotated[str | None, Field(default=None, max_length=2000)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No invoice with this number"}}
ACTION_RESPONSES: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    409: {"description": "The action does not apply in the invoice's current state (the reason is given)"},
}


class ActionResult(BaseModel):
    number: str
    action: str
    action_id: str
    state: InvoiceState


# Bounds keep every instant a workflow timer can hold and every date PostgreSQL can store.
MAX_AHEAD = timedelta(days=5 * 366)


class StaffBody(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        reject_nul(data)
        return data


class MarkPaidIn(StaffBody):
    amount_minor: int | None = Field(default=None, gt=0, le=MAX_MINOR, description="defaults to the balance")
    method: str = Field(default="bank_transfer", min_length=1, max_length=32)
    note: Note = None


class PauseIn(StaffBody):
    until: AwareDatetime | None = Field(
        default=None, description="resume automatically then (within 5 years); omit to pause until resumed"
    )
    note: Note = None

    @field_validator("until")
    @classmethod
    def _within_reach(cls, until: datetime | None) -> datetime | None:
        if until is not None and until - datetime.now(UTC) > MAX_AHEAD:
            raise ValueError("until must lie within 5 years")
        return until


class NoteIn(StaffBody):
    note: Note = None


class ExtendIn(StaffBody):
    due_date: date | None = Field(default=None, description="the new due date (after the current one, within 5 years)")
    extend_days: int | None = Field(default=None, ge=1, le=366, description="or: move the due date by N days")
    note: Note = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ExtendIn:
        if (self.due_date is None) == (self.extend_days is None):
            raise ValueError("give exactly one of due_date or extend_days")
        if self.due_date is not None and self.due_date > datetime.now(UTC).date() + MAX_AHEAD:
            raise ValueError("due_date must lie within 5 years")
        return self


class ReasonIn(StaffBody):
    reason: str = Field(min_length=1, max_length=500)
    note: Note = None


class ResolutionIn(StaffBody):
    resolution: str = Field(min_length=1, max_length=1000, description="how the dispute was settled (timeline)")
    note: Note = None


class ResendIn(BaseModel):
    kind: Literal["invoice_issued", "reminder", "overdue", "receipt"] = Field(
        description="the last email of this kind is sent again"
    )


class RefundIn(StaffBody):
    payment_id: int = Field(gt=0, description="the payment to give money back from (the invoice's payments list)")
    amount_minor: int | None = Field(
        default=None, gt=0, le=MAX_MINOR, description="minor units; default: all that is left of that payment"
    )
    reason: str = Field(min_length=1, max_length=500, description="why (the timeline and the credit note)")
    outcome: refunds.RefundOutcome = Field(
        default=refunds.RefundOutcome.credited,
        description="credited: a refund credit note lowers the price, a paid invoice stays paid; owed_again: the "
        "client owes the money again (paid -> partially paid, open or overdue) and reminders resume",
    )


# --- reading ----------------------------------------------------------------------------------------


@router.get("", summary="List and filter invoices", response_model=invoice_views.InvoicePage)
async def list_invoices(
    principal: ViewerDep,
    db: DatabaseDep,
    zone: ZoneDep,
    status: Annotated[list[InvoiceStatus] | None, Query(description="one or more statuses")] = None,
    client_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    overdue_days: Annotated[int | None, Query(ge=0, le=36_500, description="unpaid, due >= N days ago")] = None,
    amount_min: Annotated[int | None, Query(ge=0, le=MAX_MINOR, description="total, minor units")] = None,
    amount_max: Annotated[int | None, Query(ge=0, le=MAX_MINOR, description="total, minor units")] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None,
    issued_from: Annotated[date | None, Query(description="issue date, inclusive")] = None,
    issued_to: Annotated[date | None, Query(description="issue date, inclusive")] = None,
    q: Annotated[str | None, Query(max_length=100, description="text in the number or the client's name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> invoice_views.InvoicePage:
    where = InvoiceFilter(
        statuses=tuple(s.value for s in status or ()),
        client_id=client_id,
        overdue_days=overdue_days,
        amount_min=amount_min,
        amount_max=amount_max,
        currency=currency.upper() if currency else None,
        issued_from=issued_from,
        issued_to=issued_to,
        search=q.replace("\x00", "") if q else None,
        zone=zone,
        workspace_id=principal.workspace_id,
    )
    return await invoice_views.list_page(db, where=where, limit=limit, offset=offset)


@router.get(
    "/{number}/document",
    summary="The invoice as a file: Factur-X PDF, Factur-X CII, XRechnung (UBL or CII), Peppol BIS 3.0 UBL",
    response_class=Response,
    responses={
        **NOT_FOUND,
        200: {"content": {"application/pdf": {}, "application/xml": {}}, "description": "the file"},
        409: {"description": "The invoice's data cannot make this format (the rules and fields are named)"},
    },
)
async def get_invoice_document(
    number: NumberPath,
    _: ViewerDep,
    db: DatabaseDep,
    settings: SettingsDep,
    format: Annotated[
        FileKind, Query(description="pdf (Factur-X), cii, xrechnung, xrechnung-cii or peppol")
    ] = FileKind.pdf,
) -> Response:
    try:
        file = await document_files.invoice_file(db, settings, number=number, kind=format)
    except document_files.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None
    except document_files.DocumentInvalid as err:
        raise HTTPException(409, f"invoice {number} cannot be produced as {format.value}: {err}") from None
    return Response(
        file.content,
        media_type=file.content_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


@router.get(
    "/{number}",
    summary="Invoice detail: lines, payments, messages, timeline, live workflow state",
    response_model=invoice_views.InvoiceDetail,
    responses=NOT_FOUND,
)
async def get_invoice(
    number: NumberPath, _: ViewerDep, db: DatabaseDep, temporal: TemporalDep
) -> invoice_views.InvoiceDetail:
    try:
        return await invoice_views.detail(db, temporal, number=number)
    except invoice_views.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None


@router.get(
    "/{number}/plan",
    summary="The plan ahead: each reminder (with the client's local time), overdue, holds, escalation",
    response_model=InvoicePlan,
    responses=ACTION_RESPONSES,
)
async def get_plan(number: NumberPath, _: ViewerDep, db: DatabaseDep, temporal: TemporalDep) -> InvoicePlan:
    try:
        return await invoice_plans.current_plan(db, temporal, number=number)
    except staff_actions.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None
    except staff_actions.ActionRejected as err:
        raise HTTPException(409, str(err)) from None
    except RPCError as err:
        raise HTTPException(409, f"invoice {number}'s workflow cannot be reached: {err.message}") from None


DryRun = Annotated[bool, Query(description="show the plan before and after, without applying the action")]


async def _preview(
    db: DatabaseDep, temporal: TemporalDep, number: str, name: str, action: ExtendDueDate | PauseReminders
) -> invoice_plans.PlanPreview:
    try:
        return await invoice_plans.preview_action(db, temporal, number=number, action=action, name=name)
    except staff_actions.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None
    except staff_actions.ActionRejected as err:
        raise HTTPException(409, str(err)) from None
    except RPCError as err:
        raise HTTPException(409, f"invoice {number}'s workflow cannot be reached: {err.message}") from None


# --- actions ----------------------------------------------------------------------------------------


async def _act(db: DatabaseDep, temporal: TemporalDep, number: str, name: str, action: StaffAction) -> ActionResult:
    try:
        state = await staff_actions.perform_action(db, temporal, number=number, action=action)
    except staff_actions.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None
    except (staff_actions.ActionRejected, invoice_runs.WorkflowClosed) as err:
        raise HTTPException(409, str(err)) from None
    except RPCError as err:
        raise HTTPException(409, f"invoice {number}'s workflow cannot be reached: {err.message}") from None
    return ActionResult(number=number, action=name, action_id=action.action_id, state=state)


def _ids(principal: Principal, key: str | None) -> dict[str, str]:
    return {"action_id": key or uuid.uuid4().hex, "actor": principal.actor}


@router.post("/{number}/mark-paid", summary="Record a manual payment", responses=ACTION_RESPONSES)
async def mark_paid(
    number: NumberPath,
    principal: StaffDep,
    db: DatabaseDep,
    temporal: TemporalDep,
    key: IdempotencyKey = None,
    body: Annotated[MarkPaidIn | None, Body()] = None,
) -> ActionResult:
    data = body or MarkPaidIn()
    action = MarkPaid(**_ids(principal, key), amount_minor=data.amount_minor, method=data.method, note=data.note)
    return await _act(db, temporal, number, "mark-paid", action)


@router.post("/{number}/pause-reminders", summary="Pause reminders (optionally until)", responses=ACTION_RESPONSES)
async def pause_reminders(
    number: NumberPath,
    principal: StaffDep,
    db: DatabaseDep,
    temporal: TemporalDep,
    key: IdempotencyKey = None,
    body: Annotated[PauseIn | None, Body()] = None,
    dry_run: DryRun = False,
) -> ActionResult | invoice_plans.PlanPreview:
    data = body or PauseIn()
    action = PauseReminders(**_ids(principal, key), until=data.until, note=data.note)
    if dry_run:
        return await _preview(db, temporal, number, "pause-reminders", action)
    return await _act(db, temporal, number, "pause-reminders", action)


@router.post("/{number}/resume-reminders", summary="Resume paused reminders", responses=ACTION_RESPONSES)
async def resume_reminders(
    number: NumberPath,
    principal: StaffDep,
    db: DatabaseDep,
    temporal: TemporalDep,
    key: IdempotencyKey = None,
    body: Annotated[NoteIn | None, Body()] = None,
) -> ActionResult:
    action = ResumeReminders(**_ids(principal, key), note=(body or NoteIn()).note)
    return await _act(db, temporal, number, "resume-reminders", action)


@router.post("/{number}/extend-due-date", summary="Move the due date later", responses=ACTION_RESPONSES)
async def extend_due_date(
    number: NumberPath,
    body: ExtendIn,
    principal: StaffDep,
    db: DatabaseDep,
    temporal: TemporalDep,
    key: IdempotencyKey = None,
    dry_run: DryRun = False,
) -> ActionResult | invoice_plans.PlanPreview:
    by = timedelta(days=body.extend_days) if body.extend_days is not None else None
    action = ExtendDueDate(**_ids(principal, key), due_date=body.due_date, extend_by=by, note=body.note)
    if dry_run:
        return await _preview(db, temporal, number, "extend-due-date", action)
    return await _act(db, temporal, number, "extend-due-date", action)


@router.post("/{number}/void", summary="Void an unpaid invoice", responses=ACTION_RESPONSES)
async def void(
    number: NumberPath,
    body: ReasonIn,
    principal: StaffDep,
    db: DatabaseDep,
    temporal: TemporalDep,
    key: IdempotencyKey = None,
) -> ActionResult:
    action = VoidInvoice(**_ids(principal, key), reason=body.reason, note=body.note)
    return await _act(db, temporal, number, "void", action)


@router.post("/{number}/write-off", summary="Write off the balance as uncollectible", responses=ACTION_RESPONSES)
async def write_off(
    number: NumberPath,
    body: ReasonIn,
    principal: StaffDep,
    db: DatabaseDep,
    temporal: TemporalDep,
    key: IdempotencyKey = None,
) -> ActionResult:
    action = WriteOff(**_ids(principal, key), reason=body.reason, note=body.note)
    return await _act(db, temporal, number, "write-off", action)


@router.post(
    "/{number}/resolve-dispute",
    summary="Close the client's dispute; reminders resume",
    description="409 unless the invoice is disputed. Void, write off or extend separately if the dispute calls for it.",
    responses=ACTION_RESPONSES,
)
async def resolve_dispute(
    number: NumberPath,
    body: ResolutionIn,
    principal: StaffDep,
    db: DatabaseDep,
    temporal: TemporalDep,
    key: IdempotencyKey = None,
) -> ActionResult:
    action = ResolveDispute(**_ids(principal, key), resolution=body.resolution, note=body.note)
    return await _act(db, temporal, number, "resolve-dispute", action)


@router.post(
    "/{number}/resend",
    summary="Send the last email of a kind again",
    description="Each request (or Idempotency-Key) sends one new email; repeating the same key sends nothing more.",
    responses={**ACTION_RESPONSES, 502: {"description": "The email provider refused the message"}},
)
async def resend(
    number: NumberPath,
    body: ResendIn,
    principal: StaffDep,
    db: DatabaseDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    key: IdempotencyKey = None,
) -> staff_actions.ResendResult:
    call: Awaitable[staff_actions.ResendResult] = staff_actions.resend_email(
        db,
        settings,
        number=number,
        kind=EmailKind(body.kind),
        request_id=key or uuid.uuid4().hex,
        actor=principal.actor,
        temporal=temporal,
    )
    try:
        return await call
    except staff_actions.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None
    except staff_actions.ActionRejected as err:
        raise HTTPException(409, str(err)) from None
    except staff_actions.EmailFailed as err:
        raise HTTPException(502, str(err)) from None
    except RPCError as err:
        raise HTTPException(409, f"invoice {number}'s workflow cannot be reached: {err.message}") from None


REFUND_RESPONSES: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    409: {"description": "Stripe did not answer: nothing was refunded; repeat with the same Idempotency-Key"},
    422: {"description": "The refund is refused; the field at fault is named (payment_id, amount_minor, outcome)"},
}


@router.post(
    "/{number}/refund",
    summary="Refund a payment: through Stripe for card payments made on Stripe, else recorded as refunded",
    responses=REFUND_RESPONSES,
)
async def refund(
    number: NumberPath,
    body: RefundIn,
    principal: StaffDep,
    db: DatabaseDep,
    temporal: TemporalDep,
    stripe_gateway: StripeDep,
    http_request: Request,
    background: BackgroundTasks,
    key: IdempotencyKey = None,
) -> refunds.RefundResult:
    request = refunds.RefundRequest(
        payment_id=body.payment_id,
        amount_minor=body.amount_minor,
        reason=body.reason,
        outcome=body.outcome,
        request_id=key or uuid.uuid4().hex,
    )
    try:
        made = await refunds.refund_payment(
            db, temporal, stripe_gateway, number=number, request=request, actor=principal.actor
        )
    except refunds.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None
    except refunds.RefundRefused as err:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", err.field), "msg": str(err)}]) from None
    except refunds.RefundUnavailable as err:
        raise HTTPException(409, f"{err}: nothing was refunded; try again with the same Idempotency-Key") from None
    if made.client_email is not None:  # the client is told, after the answer
        background.add_task(send_email_now, http_request, made.client_email)
    return made


class KeepPaymentIn(StaffBody):
    reason: str = Field(min_length=1, max_length=500, description="why nothing is refunded (the timeline)")


class KeepPaymentResult(BaseModel):
    number: str
    decided: bool  # False: this Idempotency-Key had decided it already


@router.post(
    "/{number}/keep-payment",
    summary="Decide not to refund: the invoice leaves the overview's refunds to decide",
    responses={**NOT_FOUND, 422: {"description": "No refund decision is waiting on this invoice, or no reason"}},
)
async def keep_payment(
    number: NumberPath, body: KeepPaymentIn, principal: StaffDep, db: DatabaseDep, key: IdempotencyKey = None
) -> KeepPaymentResult:
    try:
        decided = await refunds.keep_payment(
            db, number=number, reason=body.reason, request_id=key or uuid.uuid4().hex, actor=principal.actor
        )
    except refunds.InvoiceNotFound as err:
        raise HTTPException(404, str(err)) from None
    except refunds.RefundRefused as err:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", err.field), "msg": str(err)}]) from None
    return KeepPaymentResult(number=number, decided=decided)
