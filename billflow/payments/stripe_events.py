"""Stripe webhook events applied to invoices: each stored once by event id, then applied idempotently.

Order does not matter: a completed session records its payment keyed by the session id whether it arrives
as checkout.session.completed, async_payment_succeeded, a pay-URL visit or the reconciliation sweep; an
`expired` never reopens a completed session; refunds are recorded as the difference between the charge's
cumulative amount_refunded and what billflow has already recorded for that charge.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from temporalio.client import Client

from billflow.db import Database
from billflow.payments.stripe import SessionSnapshot
from billflow.repositories import checkout_sessions as sessions_repo
from billflow.repositories import credit_notes as credit_notes_repo
from billflow.repositories import inbox as inbox_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import run_outbox as outbox_repo
from billflow.repositories import workspaces as workspaces_repo
from billflow.services import refunds
from billflow.services.checkout import STRIPE_PROVIDER, apply_session
from billflow.services.stripe_accounts import StripeRoute, route_of_session, route_of_workspace
from models.columns import DEFAULT_WORKSPACE_ID, utcnow
from models.enums import EmailKind
from models.inbox import InboxSource
from models.money import format_money
from models.workflow_io import PaymentReceived, SendEmailInput

log = logging.getLogger(__name__)

SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
HANDLED = {*SESSION_EVENTS, "charge.refunded"}


# --- the shape billflow reads from a (verified) event; anything else is a 400, before anything is stored ----

_Minor = Annotated[int, Field(ge=0, le=10**15)]  # amounts in minor units: never negative, far below 64 bits
_Instant = Annotated[int, Field(ge=0, le=253_402_300_799)]  # Unix seconds up to 9999-12-31 (datetime's range)
_Id = Annotated[str, Field(min_length=1, max_length=255)]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")  # Stripe adds fields; billflow checks only those it reads


class _StripeObject(_Loose):
    id: _Id
    currency: Annotated[str, Field(max_length=3)] | None = None
    payment_intent: _Id | dict[str, Any] | None = None
    metadata: dict[str, str] | None = None

    @field_validator("metadata")
    @classmethod
    def _invoice_id_fits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        raw = (value or {}).get("billflow_invoice_id", "")
        if raw.isdigit() and len(raw) > 18:
            raise ValueError("billflow_invoice_id is out of range")
        return value


class _CheckoutSession(_StripeObject):
    url: str | None = None
    status: str | None = None
    payment_status: str | None = None
    amount_total: _Minor | None = None
    expires_at: _Instant | None = None


class _Charge(_StripeObject):
    amount_refunded: _Minor | None = None


class _EventData(_Loose):
    object: dict[str, Any]


class _Envelope(_Loose):
    id: _Id
    type: Annotated[str, Field(max_length=255)] = ""
    created: _Instant | None = None
    data: _EventData
    # A Connect event: the connected account it happened on (a workspace's, issue 13); absent on the platform's.
    account: Annotated[str, Field(pattern=r"^acct_[A-Za-z0-9]{1,120}$")] | None = None


class MalformedEvent(ValueError):
    """A verified delivery that is not a Stripe event billflow can read; the message names the field."""


def parse_event(raw: bytes) -> dict[str, Any]:
    """The event as a dict, after checking every field billflow reads from it (type, range)."""
    try:
        event = json.loads(raw)
    except ValueError:
        raise MalformedEvent("body is not JSON") from None
    if not isinstance(event, dict):
        raise MalformedEvent("body is not a Stripe event (a JSON object is expected)")
    try:
        _Envelope.model_validate(event)
        if event.get("type") in SESSION_EVENTS:
            _CheckoutSession.model_validate(event["data"]["object"])
        elif event.get("type") == "charge.refunded":
            _Charge.model_validate(event["data"]["object"])
    except ValidationError as err:
        where = "" if _Envelope.__name__ in err.title else "data.object."
        problems = "; ".join(f"{where}{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5])
        raise MalformedEvent(f"not a Stripe event billflow can read: {problems}") from None
    return event


@dataclass(frozen=True)
class StripeEventResult:
    outcome: str
    refund_email: SendEmailInput | None = None  # the client is told about a newly recorded refund

    @property
    def label(self) -> str:
        """A small fixed vocabulary for metrics: the outcome's first word (paid, pending, duplicate, ...)."""
        return self.outcome.split(" ", 1)[0]


async def receive_stripe_event(
    db: Database, temporal: Client, event: dict[str, Any], *, own_keys_of: int | None = None
) -> StripeEventResult:
    """Store the (verified) event once and apply it; a duplicate delivery applies nothing. Returns the outcome.

    `own_keys_of`: the event came to that workspace's own endpoint, verified with its webhook secret; it applies
    only to that workspace's sessions made with its own keys. Its event ids are its account's, stored apart.

    The event row and its outcome commit together: if applying fails, nothing is stored and Stripe's retry
    applies it again.
    """
    # Three short transactions, none held while another waits for a connection (under load, an outer one held
    # across the apply exhausted the pool): store once, apply (idempotent by provider reference), mark applied.
    # A failed apply leaves the row unprocessed, so Stripe's retry applies it again.
    async with db.session() as session:
        # A workspace's own endpoint: its account's event ids, stored apart and filed under that workspace.
        stored = await inbox_repo.claim(
            session,
            source=InboxSource.stripe,
            channel="" if own_keys_of is None else f"w{own_keys_of}",
            event_key=str(event["id"]),
            type=str(event.get("type", "")),
            payload=event,
            workspace_id=DEFAULT_WORKSPACE_ID if own_keys_of is None else own_keys_of,
        )
        if stored.processed_at is not None:
            return StripeEventResult(f"duplicate ({stored.outcome})")
    outcome, invoice_id = await _apply(db, temporal, event, own_keys_of=own_keys_of)
    async with db.session() as session:
        assert stored.id is not None
        await inbox_repo.record_once(session, event_id=stored.id, outcome=outcome, invoice_id=invoice_id)
    log.info("stripe event %s %s: %s", event["id"], event.get("type"), outcome)
    if outcome.startswith("refunded") and invoice_id is not None:
        charge = (event.get("data") or {}).get("object") or {}
        reference = f"{charge.get('id')}:refunded:{int(charge.get('amount_refunded') or 0)}"
        async with db.session() as session:  # the refund's credit note (if it lowered the price) goes with it
            note = await credit_notes_repo.get_credit_note(session, idempotency_key=f"refund:{reference}")
        email = SendEmailInput(
            invoice_id=invoice_id,
            kind=EmailKind.refund,
            idempotency_key=f"stripe-refund:{event['id']}",
            credit_note_id=note.id if note else None,
        )
        return StripeEventResult(outcome, refund_email=email)
    return StripeEventResult(outcome)


async def _apply(
    db: Database, temporal: Client, event: dict[str, Any], *, own_keys_of: int | None
) -> tuple[str, int | None]:
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind in HANDLED:
        refused = await _account_refusal(db, event, obj, own_keys_of=own_keys_of)
        if refused is not None:
            log.warning("stripe event %s (%s) not applied: %s", event.get("id"), kind, refused)
            return refused, None
    created = datetime.fromtimestamp(int(event.get("created") or utcnow().timestamp()), UTC)
    if kind in SESSION_EVENTS:
        snapshot = SessionSnapshot.from_stripe(obj)
        outcome = await apply_session(
            db,
            temporal,
            snapshot,
            received_at=created,
            source=kind,
            failed=kind == "checkout.session.async_payment_failed",
        )
        raw_id = snapshot.metadata.get("billflow_invoice_id", "")
        return outcome.value, int(raw_id) if raw_id.isdigit() else None
    if kind == "charge.refunded":
        return await _refund(db, temporal, obj, created)
    return "ignored", None


async def _refund(db: Database, temporal: Client, charge: dict[str, Any], created: datetime) -> tuple[str, int | None]:
    charge_id = str(charge.get("id"))
    total_refunded = int(charge.get("amount_refunded") or 0)
    currency = str(charge.get("currency") or "").upper()
    async with db.session() as session:
        invoice_id = await _invoice_of_charge(session, charge)
        if invoice_id is None:
            return "foreign", None
        # Lock the invoice first, so two refund events of one charge compute their difference in turn.
        invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id, for_update=True)
        if invoice is None:
            return "foreign", None
        already = await refunds.refunded_for_charge(session, charge_id=charge_id)
        delta = total_refunded - already
        if delta <= 0:
            return "refund already recorded", invoice_id
        refund = PaymentReceived(
            provider=STRIPE_PROVIDER,
            provider_reference=f"{charge_id}:refunded:{total_refunded}",
            amount_minor=delta,
            currency=currency,
            received_at=created,
            method="card",
        )
        intent = charge.get("payment_intent")
        paid = await refunds.stripe_payment_of_intent(
            session, payment_intent_id=str(intent.get("id") if isinstance(intent, dict) else intent or "")
        )
        # A refund made in Stripe's dashboard lowers the price (beyond any overpayment): its credit note is
        # issued first and in the same transaction, so the balance stays settled instead of reopening.
        outcome, _ = await refunds.record_refund(
            session,
            invoice_id=invoice_id,
            refund=refund,
            outcome=refunds.RefundOutcome.credited,
            reason=f"Refund of {format_money(delta, currency)} by card",
            note="Stripe refund",
            refund_of_payment_id=paid.id if paid is not None else None,
        )
        if not outcome.rejected_reason:
            # The run is told in the same transaction (the outbox): it reads the invoice's amounts and status
            # again; a run that has closed gets its collection back instead (the relay reopens the invoice).
            await outbox_repo.enqueue_signal(
                session,
                workflow_id=invoice.workflow_id,
                name=outbox_repo.PAYMENT_RECORDED,
                payload=refund,
                key=f"payment:{refund.provider}:{refund.provider_reference}",
            )
    if outcome.rejected_reason:
        return f"refund rejected: {outcome.rejected_reason}", invoice_id
    return f"refunded {delta} ({outcome.status.value})", invoice_id


async def _invoice_of_charge(session: Any, charge: dict[str, Any]) -> int | None:
    raw = str((charge.get("metadata") or {}).get("billflow_invoice_id", ""))
    if raw.isdigit():
        return int(raw)
    intent = charge.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    if not intent:
        return None
    row = await sessions_repo.get_session(session, payment_intent_id=str(intent))
    return row.invoice_id if row is not None else None


async def _account_refusal(
    db: Database, event: dict[str, Any], obj: dict[str, Any], *, own_keys_of: int | None
) -> str | None:
    """Why an event must not touch the invoice it names, or None: a Connect event (its `account`) applies only to
    the invoices of the workspace connected to that account, through sessions made on it; a platform event only
    through sessions made on the platform; an event of a workspace's own endpoint only through sessions made with
    its own keys. An account no workspace has is ignored (stored, never applied)."""
    account = event.get("account") or None
    if own_keys_of is not None and account is not None:
        return f"ignored: an event of account {account} on a workspace's own endpoint"
    origin = StripeRoute(own_keys_of=own_keys_of).origin if own_keys_of is not None else account
    async with db.session() as session:
        if account is not None:
            owner = await workspaces_repo.get_workspace_of_stripe_account(session, account=str(account))
            if owner is None:
                return f"ignored: account {account} is not connected to any workspace"
        if event.get("type") in SESSION_EVENTS:
            row = await sessions_repo.get_session(session, stripe_session_id=str(obj.get("id")))
            invoice_id = row.invoice_id if row is not None else None
            if invoice_id is None:
                raw = str((obj.get("metadata") or {}).get("billflow_invoice_id", ""))
                invoice_id = int(raw) if raw.isdigit() else None
        else:
            invoice_id = await _invoice_of_charge(session, obj)
            intent = obj.get("payment_intent")
            intent = intent.get("id") if isinstance(intent, dict) else intent
            row = await sessions_repo.get_session(session, payment_intent_id=str(intent)) if intent else None
        if row is not None:
            made_on = route_of_session(row).origin
        elif invoice_id is not None:
            invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
            if invoice is None:
                return None  # not billflow's: the handler answers "foreign"
            made_on = (await route_of_workspace(session, workspace_id=invoice.workspace_id)).origin
        else:
            return None
    if made_on != origin:
        where = "the workspace's own account" if own_keys_of else f"account {account}" if account else None
        return f"foreign account: the invoice's payments are not on {where or 'the platform account'}"
    return None
