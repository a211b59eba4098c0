"""Client-facing pages at unguessable token URLs: the invoice page, its PDF, and the stable pay URL.

Thin edges: lookups and rules live in billflow.services; these handlers render or redirect.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.config import PaymentBackend, Settings
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import payment_lookups
from billflow.services import client_answers as answers_service
from billflow.services import invoice_plans
from billflow.services import payments as payments_service
from billflow.services.documents import load_document
from billflow.services.email_events import record_invoice_viewed
from billflow.web.deps import DatabaseDep, SettingsDep, TemporalDep
from models.invoices import Invoice
from models.money import format_money

router = APIRouter(tags=["public pages"], include_in_schema=False)

# Tokens are secrets.token_urlsafe(24) (32 chars); the bound only keeps junk out of the database query.
TOKEN_MAX = 64
# In-request retries of Stripe 409/5xx/connection errors on a pay-link visit (same idempotency key each time).
PAY_PAGE_STRIPE_RETRIES = 2


@lru_cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("billflow", "templates/web"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda minor, currency: format_money(int(minor), currency)
    env.filters["longdate"] = lambda value: _long_date(value)
    env.filters["qty"] = lambda q: format(Decimal(q).normalize(), "f")
    env.filters["pct"] = lambda value: f"{Decimal(str(value)).normalize():f} %"
    return env


def _long_date(value: date | datetime) -> str:
    day = value.date() if isinstance(value, datetime) else value
    return f"{day.day} {day.strftime('%B %Y')}"


def _render(template: str, **context: Any) -> HTMLResponse:
    html = _templates().get_template(template).render(**context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _status_label(invoice: Invoice) -> str:
    label = invoice.status.replace("_", " ").capitalize()
    return f"{label} · viewed" if invoice.viewed_at and invoice.status in ("open", "overdue") else label


async def _load(session: AsyncSession, token: str) -> tuple[Invoice, dict[str, Any]]:
    """The invoice and the context every page shows; 404 for an unknown token (no hint whether it existed)."""
    invoice = await invoices_repo.get_invoice(session, public_token=token) if len(token) <= TOKEN_MAX else None
    if invoice is None:
        raise HTTPException(status_code=404, detail="invoice not found")
    client = await clients_repo.get_client(session, client_id=invoice.client_id)
    return invoice, {"invoice": invoice, "client": client, "status_label": _status_label(invoice)}


def _urls(settings: Settings, token: str, invoice: Invoice | None = None) -> dict[str, str]:
    """The page's links, and the business it speaks for: the invoice's seller (its workspace as issued)."""
    seller = str(invoice.seller.get("name") or "") if invoice is not None else ""
    return {
        "invoice_url": f"/i/{token}",
        "pay_url": f"/pay/{token}",
        "pdf_url": f"/i/{token}/pdf",
        "pay_action": f"/pay/{token}",
        "business_name": seller or settings.business_name,
    }


@router.get("/i/{token}", response_class=HTMLResponse, summary="The client's invoice page")
async def invoice_page(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep
) -> HTMLResponse:
    async with db.session() as session:
        invoice, context = await _load(session, token)
        assert invoice.id is not None
        if invoice.viewed_at is None:
            await record_invoice_viewed(session, invoice_id=invoice.id, source="invoice page")
        lines = await invoices_repo.get_lines(session, invoice_id=invoice.id)
        document = await load_document(session, number=invoice.number, settings=settings)
    plan = None
    if answers_service.can_answer(invoice):  # the plan ahead only matters while something is owed
        plan = await invoice_plans.plan_for_page(temporal, workflow_id=invoice.workflow_id)
    return _render(
        "invoice.html.j2",
        next_reminder=plan.next_reminder if plan else None,
        hold_until=plan.hold.until if plan and plan.hold and plan.hold.until else None,
        **context,
        **_urls(settings, token, invoice),
        lines=lines,
        document=document,
        can_pay=payments_service.payable(invoice),
        # Stripe's success_url brings the client back here before the webhook may have arrived.
        payment_returning="paid" in request.query_params,
        **_answer_context(invoice, token, request),
    )


_ANSWERED = {
    "transfer": "Thank you: we will look out for your transfer and not send reminders in the meantime.",
    "promise": "Thank you: we will not send reminders before the date you gave us.",
    "dispute": "Thank you: your message has been passed on, and reminders are stopped until we have replied.",
}


def _answer_context(invoice: Invoice, token: str, request: Request) -> dict[str, Any]:
    """The three answer forms (collections, issue 16), each with a fresh signed form token."""
    answered = request.query_params.get("answered", "")
    return {
        "can_answer": answers_service.can_answer(invoice),
        "answer_action": f"/i/{token}/answer",
        "form_token": answers_service.form_token(invoice),
        "answered_notice": _ANSWERED.get(answered),
        "today": datetime.now(ZoneInfo(invoice.timezone)).date().isoformat(),
    }


@router.post("/i/{token}/answer", summary="The client answers: paid by transfer, will pay on a date, disputes it")
async def answer(
    token: str,
    db: DatabaseDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    kind: Annotated[str, Form(max_length=16)] = "",
    form_token: Annotated[str, Form(max_length=64)] = "",
    paid_on: Annotated[str | None, Form(max_length=32)] = None,
    reference: Annotated[str | None, Form(max_length=500)] = None,
    pay_on: Annotated[str | None, Form(max_length=32)] = None,
    reason: Annotated[str | None, Form(max_length=4000)] = None,
) -> Response:
    if len(token) > TOKEN_MAX:
        raise HTTPException(status_code=404, detail="invoice not found")
    urls = _urls(settings, token)
    try:
        answer_kind = answers_service.AnswerKind(kind)
    except ValueError:
        return _answer_problem(400, "Please choose an answer", "kind: must be transfer, promise or dispute", urls)
    fields = {"paid_on": paid_on, "reference": reference, "pay_on": pay_on, "reason": reason}
    try:
        result = await answers_service.submit_answer(
            db, temporal, settings, public_token=token, token=form_token, kind=answer_kind, fields=fields
        )
    except answers_service.AnswerInvalid as err:
        return _answer_problem(400, "Please check your answer", f"{err.field}: {err.message}", urls)
    except answers_service.AnswerUnavailable:
        response = _answer_problem(503, "Please try again", "We could not record your answer just now.", urls)
        response.headers["Retry-After"] = "30"
        return response
    if result is None:
        raise HTTPException(status_code=404, detail="invoice not found")
    match result.outcome:
        case answers_service.AnswerOutcome.stale_form:
            text = "This form has expired. Please reload the invoice page and answer again."
            return _answer_problem(400, "Please reload the page", text, urls)
        case answers_service.AnswerOutcome.rate_limited:
            text = "We have received several answers for this invoice in the last hour. Please try again later."
            response = _answer_problem(429, "Too many answers", text, urls)
            response.headers["Retry-After"] = "3600"
            return response
        case answers_service.AnswerOutcome.not_applicable:
            return RedirectResponse(urls["invoice_url"], status_code=303)
    return RedirectResponse(f"{urls['invoice_url']}?answered={answer_kind.value}#answer", status_code=303)


def _answer_problem(status: int, heading: str, text: str, urls: dict[str, str]) -> HTMLResponse:
    response = _render("message.html.j2", heading=heading, text=text, **urls)
    response.status_code = status
    return response


@router.get("/i/{token}/pdf", summary="The invoice as a PDF")
async def invoice_pdf(token: str, db: DatabaseDep, settings: SettingsDep) -> Response:
    return await invoice_document(token, "pdf", db, settings)


@router.get("/i/{token}/document/{kind}", summary="The invoice as a file: pdf, cii, xrechnung, xrechnung-cii, peppol")
async def invoice_document(token: str, kind: str, db: DatabaseDep, settings: SettingsDep) -> Response:
    from billflow.services.document_files import DocumentInvalid, document_file
    from models.einvoice import FileKind

    try:
        file_kind = FileKind(kind)
    except ValueError:
        raise HTTPException(status_code=404, detail="unknown document format") from None
    async with db.session() as session:
        invoice, _ = await _load(session, token)
        try:
            file = await document_file(session, invoice=invoice, settings=settings, kind=file_kind)
        except DocumentInvalid as err:
            raise HTTPException(status_code=409, detail=f"this invoice cannot be produced as {kind}: {err}") from err
    disposition = "inline" if file.content_type == "application/pdf" else "attachment"
    return Response(
        file.content,
        media_type=file.content_type,
        headers={"Content-Disposition": f'{disposition}; filename="{file.filename}"', "Cache-Control": "no-store"},
    )


@router.get("/pay/{token}", summary="The stable pay URL emailed to the client")
async def pay_page(
    token: str, request: Request, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep
) -> Response:
    async with db.session() as session:
        invoice, context = await _load(session, token)
        assert invoice.id is not None
        if invoice.viewed_at is None:
            await record_invoice_viewed(session, invoice_id=invoice.id, source="pay link")
        payments_count = await payment_lookups.count_payments(session, invoice_id=invoice.id)
    urls = _urls(settings, token, invoice)
    if not payments_service.payable(invoice):
        return _nothing_to_pay(invoice, urls)
    if settings.payment_backend is PaymentBackend.stripe:
        return await _stripe_checkout(request, invoice)
    stale = "stale" in request.query_params
    notice = "The invoice changed since you opened this page; please check the amount." if stale else None
    return _render(
        "pay.html.j2",
        **context,
        **urls,
        nonce=payments_service.local_pay_nonce(invoice, payments_count=payments_count),
        notice=notice,
    )


@router.post("/pay/{token}", summary="Pay on the local pay page (local payment backend only)")
async def pay_now(
    token: str,
    nonce: Annotated[str, Form(min_length=16, max_length=64, pattern=r"^[0-9a-f]+$")],
    db: DatabaseDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    if settings.payment_backend is not PaymentBackend.local or len(token) > TOKEN_MAX:
        raise HTTPException(status_code=404, detail="not found")
    result = await payments_service.pay_locally(db, public_token=token, nonce=nonce)
    if result is None:
        raise HTTPException(status_code=404, detail="invoice not found")
    if result.outcome is payments_service.LocalPayOutcome.stale_form:
        return RedirectResponse(f"/pay/{token}?stale=1", status_code=303)
    return RedirectResponse(f"/i/{token}", status_code=303)


def _nothing_to_pay(invoice: Invoice, urls: dict[str, str]) -> HTMLResponse:
    if invoice.status == "void":
        heading, text = "This invoice was voided", f"Invoice {invoice.number} has been voided: nothing is due."
    else:
        heading, text = "Already paid", f"Invoice {invoice.number} is paid in full. Thank you!"
    return _render("message.html.j2", heading=heading, text=text, **urls)


async def _stripe_checkout(request: Request, invoice: Invoice) -> Response:
    """Redirect to the invoice's open Checkout Session (or a new one); Stripe trouble shows a polite page."""
    from billflow.payments.stripe import StripeUnavailable
    from billflow.services import checkout

    state = request.app.state
    settings: Settings = state.settings
    if getattr(state, "stripe_gateway", None) is None:
        from billflow.payments.stripe import build_stripe_gateway
        from billflow.secret_box import secret_box_for

        state.stripe_gateway = build_stripe_gateway(
            settings.stripe_api_key,
            api_base=settings.stripe_api_base,
            max_network_retries=PAY_PAGE_STRIPE_RETRIES,
            secrets=secret_box_for(settings),  # a workspace's own keys open with it
        )
    assert invoice.id is not None
    urls = _urls(settings, invoice.public_token, invoice)
    try:
        result = await checkout.open_checkout(
            state.db, state.temporal, state.stripe_gateway, settings, invoice_id=invoice.id
        )
    except StripeUnavailable:
        result = checkout.CheckoutResult(checkout.CheckoutOutcome.unavailable)
    if result.outcome is checkout.CheckoutOutcome.redirect and result.url:
        return RedirectResponse(result.url, status_code=303)
    if result.outcome is checkout.CheckoutOutcome.settled:
        return RedirectResponse(urls["invoice_url"], status_code=303)
    response = _render(
        "message.html.j2",
        heading="Online payment is unavailable right now",
        text="We could not open the secure payment page. Please try again in a few minutes; we have been notified.",
        **urls,
    )
    response.status_code = 503
    return response
