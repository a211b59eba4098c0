"""Invoice pages: the searchable list, the detail with every staff action, and a hand-made invoice.

Actions call the same services as the API (billflow.services.staff_actions); a refusal is shown with its reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from temporalio.service import RPCError

from billflow.repositories.invoice_search import DueRange
from billflow.repositories.invoices import InvoiceFilter
from billflow.services import invoice_list, invoice_runs, invoice_views, refunds, staff_actions, workspace_scope
from billflow.services.users import UserOut
from billflow.web.background_email import send_email_now
from billflow.web.deps import DatabaseDep, SettingsDep, StripeDep, TemporalDep
from billflow.web.pages import forms
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import StaffUser, ViewerUser
from models.api_keys import ApiRole
from models.enums import EmailKind, InvoiceStatus
from models.money import format_money
from models.workflow_io import (
    ExtendDueDate,
    MarkPaid,
    PauseReminders,
    ResumeReminders,
    StaffAction,
    VoidInvoice,
    WriteOff,
)

router = APIRouter(prefix="/app/invoices", include_in_schema=False)

NumberPath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
FormStr = Annotated[str, Form(max_length=2000)]
Q = Annotated[str, Query(max_length=100)]
PAGE_SIZE = 25
METHODS = [
    ("bank_transfer", "Bank transfer"),
    ("cash", "Cash"),
    ("card", "Card"),
    ("cheque", "Cheque"),
    ("other", "Other"),
]
SORT_LABELS = [
    ("newest", "Newest first"),
    ("due", "Due date, soonest"),
    ("due_desc", "Due date, latest"),
    ("total_desc", "Total, largest"),
    ("number", "Number"),
]
REFUND_OUTCOMES = [
    (refunds.RefundOutcome.credited.value, "The client no longer owes it: a refund credit note lowers the price"),
    (refunds.RefundOutcome.owed_again.value, "The client owes it again: the invoice reopens and reminders resume"),
]
# The service's field names as the form's.
REFUND_FIELDS = {"amount_minor": "amount", "payment_id": "payment_id", "outcome": "outcome", "reason": "reason"}
RESEND_KINDS = [(k.value, k.value.replace("_", " ")) for k in staff_actions.RESENDABLE]


@router.get("", response_class=HTMLResponse)
async def list_page(
    request: Request,
    db: DatabaseDep,
    user: ViewerUser,
    q: Q = "",
    status: Annotated[list[str], Query(max_length=6)] = [],  # noqa: B006 (FastAPI copies defaults)
    currency: Q = "",
    due_from: Q = "",
    due_to: Q = "",
    overdue_days: Q = "",
    sort: Q = "newest",
    cursor: Annotated[str, Query(max_length=120)] = "",
) -> HTMLResponse:
    params = {
        "q": q,
        "status": status,
        "currency": currency,
        "due_from": due_from,
        "due_to": due_to,
        "overdue_days": overdue_days,
        "sort": sort,
    }
    errors: dict[str, str] = {}
    statuses = []
    for value in status:
        try:
            statuses.append(InvoiceStatus(value).value)
        except ValueError:
            errors["status"] = f"unknown status {value[:20]!r}"
    if currency and not (len(currency) == 3 and currency.isalpha()):
        errors["currency"] = "a 3-letter ISO 4217 code, e.g. EUR"
    if sort not in invoice_list.SORTS:
        errors["sort"] = "choose one of the listed orders"
    parsed: dict[str, object] = {}
    for name, parse in (
        ("due_from", lambda: forms.day("due_from", due_from, required=False)),
        ("due_to", lambda: forms.day("due_to", due_to, required=False)),
        ("overdue_days", lambda: forms.whole_number("overdue_days", overdue_days, low=0, high=36_500)),
    ):
        try:
            parsed[name] = parse()
        except forms.FieldError as err:
            errors[err.field] = err.message
    page = None
    if not errors:
        where = InvoiceFilter(
            statuses=tuple(statuses),
            overdue_days=parsed["overdue_days"],  # type: ignore[arg-type]
            currency=currency.upper() or None,
            search=q.replace("\x00", "").strip() or None,
            workspace_id=user.workspace_id,
        )
        due = DueRange(due_from=parsed["due_from"], due_to=parsed["due_to"])  # type: ignore[arg-type]
        try:
            page = await invoice_list.list_invoices(db, where=where, due=due, sort=sort, cursor=cursor, limit=PAGE_SIZE)
        except ValueError:
            errors["cursor"] = "this page link is stale: start again from the first page"
    return render(
        request,
        "invoices.html",
        status_code=422 if errors else 200,
        user=user,
        page=page,
        params=params,
        values=params,
        errors=errors,
        statuses=[(s.value, s.value.replace("_", " ")) for s in InvoiceStatus],
        sorts=SORT_LABELS,
        today=datetime.now(UTC).date(),
    )


# --- detail and actions -----------------------------------------------------------------------------


async def _elsewhere(db: DatabaseDep, user: UserOut, number: str) -> bool:
    """Whether the number is only another workspace's document: answered as an unknown number (404), before any
    service looks it up, as the API's document_in_workspace does."""
    owners = await workspace_scope.document_workspaces(db, number=number)
    return bool(owners) and user.workspace_id not in owners


def _not_found(request: Request, user: UserOut, number: str) -> HTMLResponse:
    message = f"no invoice numbered {number}"
    return render(request, "not_found.html", status_code=404, user=user, message=message)


async def _detail(
    request: Request,
    db: DatabaseDep,
    temporal: TemporalDep,
    user: UserOut,
    number: str,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    open_form: str | None = None,
) -> HTMLResponse:
    if await _elsewhere(db, user, number):
        return _not_found(request, user, number)
    try:
        invoice = await invoice_views.detail(db, temporal, number=number, live_timeout=invoice_views.PAGE_LIVE_WAIT)
    except invoice_views.InvoiceNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    return render(
        request,
        "invoice.html",
        links=await invoice_list.links(db, number=number),
        refundable=[p for p in await refunds.refundable_for(db, number=number) if p.refundable_minor > 0],
        refund_outcomes=REFUND_OUTCOMES,
        refund_pending=await refunds.refund_decision_pending(db, number=number),
        status_code=status_code,
        user=user,
        invoice=invoice,
        can_act=user.role.allows(ApiRole.staff),
        methods=METHODS,
        resend_kinds=RESEND_KINDS,
        errors=errors or {},
        values=values or {},
        open_form=open_form,
        today=datetime.now(UTC).date(),
        action_id=uuid.uuid4().hex,
    )


@router.get("/{number}", response_class=HTMLResponse)
async def detail_page(
    request: Request, db: DatabaseDep, temporal: TemporalDep, user: ViewerUser, number: NumberPath
) -> HTMLResponse:
    return await _detail(request, db, temporal, user, number)


@router.get("/{number}/live", response_class=HTMLResponse)
async def live_section(
    request: Request, db: DatabaseDep, temporal: TemporalDep, user: ViewerUser, number: NumberPath
) -> HTMLResponse:
    """The Workflow section alone, fetched by the page when its run did not answer within the page's wait."""
    if await _elsewhere(db, user, number):
        return _not_found(request, user, number)
    try:
        status, live = await invoice_views.live_state(db, temporal, number=number)
    except invoice_views.InvoiceNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    return render(request, "_invoice_live.html", number=number, status=status, live=live, asking=False)


ACTIONS = {
    "mark-paid": "Payment recorded",
    "pause": "Reminders paused",
    "resume": "Reminders resumed",
    "extend": "Due date extended",
    "void": "Invoice voided",
    "write-off": "Invoice written off",
    "resend": "Email resent",
    "refund": "Refund recorded",
    "keep": "No refund: decision recorded",
}


def _build_action(
    name: str, data: dict[str, str], *, actor: str, action_id: str, currency: str, timezone: str
) -> StaffAction:
    """The form's fields as the workflow's staff action; FieldError names a bad field."""
    ids = {"action_id": action_id, "actor": actor}
    note = data.get("note", "").strip()[:2000] or None
    if name == "mark-paid":
        method = data.get("method", "bank_transfer")
        if method not in dict(METHODS):
            raise forms.FieldError("method", "choose how it was paid")
        amount = forms.amount_minor("amount", data.get("amount", ""), currency, required=False)
        return MarkPaid(**ids, amount_minor=amount, method=method, note=note)
    if name == "pause":
        until = forms.local_instant("until", data.get("until", ""), timezone)
        if until is not None and until <= datetime.now(UTC):
            raise forms.FieldError("until", "the pause must end in the future")
        if until is not None and until - datetime.now(UTC) > timedelta(days=5 * 366):
            raise forms.FieldError("until", "the pause must end within 5 years")
        return PauseReminders(**ids, until=until, note=note)
    if name == "resume":
        return ResumeReminders(**ids, note=note)
    if name == "extend":
        due = forms.day("due_date", data.get("due_date", ""))
        assert due is not None
        if due > date.today() + timedelta(days=5 * 366):
            raise forms.FieldError("due_date", "the due date must lie within 5 years")
        return ExtendDueDate(**ids, due_date=due, note=note)
    reason = data.get("reason", "").strip()
    if not reason or len(reason) > 500:
        raise forms.FieldError("reason", "give a reason (up to 500 characters)")
    if name == "void":
        return VoidInvoice(**ids, reason=reason, note=note)
    return WriteOff(**ids, reason=reason, note=note)


@router.post("/{number}/act/{name}", response_class=HTMLResponse)
async def act(
    request: Request,
    db: DatabaseDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    stripe_gateway: StripeDep,
    background: BackgroundTasks,
    user: StaffUser,
    number: NumberPath,
    name: Annotated[str, Path(max_length=20)],
) -> Response:
    if name not in ACTIONS:
        return render(request, "not_found.html", status_code=404, user=user, message=f"no action {name[:20]!r}")
    if await _elsewhere(db, user, number):  # another workspace's invoice: refused before anything is done
        return _not_found(request, user, number)
    form = await request.form()
    data = forms.form_text(form)
    back = f"/app/invoices/{number}"
    values = {f"{name}.{k}": v for k, v in data.items()}

    async def refused(field: str, message: str) -> Response:
        """The page again, with this form open and the error next to its field."""
        errors = {f"{name}.{field}": message}
        return await _detail(
            request, db, temporal, user, number, status_code=422, open_form=name, values=values, errors=errors
        )

    if data.get("confirm") != "yes":
        return await refused("confirm", "tick the box to confirm")
    action_id = data.get("action_id", "")[:64] or uuid.uuid4().hex
    try:
        if name == "resend":
            kind = data.get("kind", "")
            if kind not in dict(RESEND_KINDS):
                raise forms.FieldError("kind", "choose which email to resend")
            result = await staff_actions.resend_email(
                db,
                settings,
                number=number,
                kind=EmailKind(kind),
                request_id=action_id,
                actor=user.actor,
                temporal=temporal,
            )
            done = "was already resent" if result.already_sent else "resent"
            flash(request, f"{number}: {kind.replace('_', ' ')} email {done} to {result.to_email}.")
            return redirect(back)
        if name == "keep":
            reason = data.get("reason", "").strip()
            if not reason or len(reason) > 500:
                raise forms.FieldError("reason", "give a reason (up to 500 characters)")
            await refunds.keep_payment(db, number=number, reason=reason, request_id=action_id, actor=user.actor)
            flash(request, f"{number}: {ACTIONS['keep']}.")
            return redirect(back)
        if name == "refund":
            made = await refunds.refund_payment(
                db,
                temporal,
                stripe_gateway,
                number=number,
                request=await _refund_request(db, number, data, request_id=action_id),
                actor=user.actor,
            )
            if made.client_email is not None:  # the client is told, after the redirect
                background.add_task(send_email_now, request, made.client_email)
            flash(request, f"{number}: {_refund_text(made)}")
            return redirect(back)
        detail = await invoice_views.detail(db, temporal, number=number)
        action = _build_action(
            name, data, actor=user.actor, action_id=action_id, currency=detail.currency, timezone=detail.timezone
        )
        await staff_actions.perform_action(db, temporal, number=number, action=action)
    except forms.FieldError as err:
        return await refused(err.field, err.message)
    except ValidationError as err:
        problem = err.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else "note"
        field = REFUND_FIELDS.get(field, field) if name == "refund" else field
        return await refused(field, problem["msg"])
    except refunds.RefundRefused as err:
        return await refused(REFUND_FIELDS.get(err.field, "reason"), err.message)
    except refunds.RefundUnavailable as err:
        flash(request, f"{number}: {err}: nothing was refunded; send the same form again.", kind="error")
        return redirect(back)
    except (invoice_views.InvoiceNotFound, staff_actions.InvoiceNotFound, refunds.InvoiceNotFound) as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    except (staff_actions.ActionRejected, invoice_runs.WorkflowClosed) as err:
        # The run's answer (its Update's validator, issue 12.3): 409 with the reason, on the invoice as it is.
        flash(request, f"{number}: refused: {err}", kind="error")
        return await _detail(request, db, temporal, user, number, status_code=409)
    except staff_actions.EmailFailed as err:
        flash(request, f"{number}: the email provider refused the message: {err}", kind="error")
        return redirect(back)
    except RPCError as err:
        flash(request, f"{number}: the invoice's workflow cannot be reached: {err.message}", kind="error")
        return redirect(back)
    flash(request, f"{number}: {ACTIONS[name]}.")
    return redirect(back)


async def _refund_request(
    db: DatabaseDep, number: str, data: dict[str, str], *, request_id: str
) -> refunds.RefundRequest:
    """The refund form as the service's request; FieldError names a bad field."""
    payment = data.get("payment_id", "")
    if not payment.isdigit():
        raise forms.FieldError("payment_id", "choose the payment to refund")
    left = await refunds.refundable_for(db, number=number)
    if not left:
        raise forms.FieldError("payment_id", "no payment of this invoice is left to refund")
    amount = forms.amount_minor("amount", data.get("amount", ""), left[0].currency, required=False)
    reason = data.get("reason", "").strip()
    if not reason or len(reason) > 500:
        raise forms.FieldError("reason", "give a reason (up to 500 characters)")
    outcome = data.get("outcome", "")
    if outcome not in {v for v, _ in REFUND_OUTCOMES}:
        raise forms.FieldError("outcome", "choose what the invoice becomes")
    return refunds.RefundRequest(
        payment_id=int(payment[:12]),
        amount_minor=amount,
        reason=reason,
        outcome=refunds.RefundOutcome(outcome),
        request_id=request_id,
    )


def _refund_text(made: refunds.RefundResult) -> str:
    amount = format_money(made.amount_minor, made.currency)
    how = f"refunded through Stripe ({made.stripe_refund_id})" if made.stripe_refund_id else "recorded as refunded"
    text = f"{ACTIONS['refund']}: {amount} {how}; the invoice is {made.status.value.replace('_', ' ')}"
    if made.credit_note_number:
        text += f", credit note {made.credit_note_number} issued"
    return text + ("." if made.recorded else " (this form had been sent already).")
