"""`billflow invoice refund NUMBER`: refund a payment, through Stripe for a card payment made on Stripe, else
recorded as refunded; the same billflow.services.refunds function as the API and the staff app."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from starter.common import (  # settings and babel when a refund runs: `invoice --help` loads neither
    JsonOption,
    console,
    database,
    fail,
    format_money,
    get_settings,
    print_json,
    run,
    temporal_client,
)


def refund(
    number: Annotated[str, typer.Argument(help="Invoice number, e.g. INV-2026-000042.")],
    payment: Annotated[int, typer.Option("--payment", min=1, help="The payment's id (`invoice show --json`).")],
    reason: Annotated[str, typer.Option(help="Why: kept on the timeline and the credit note.")],
    amount: Annotated[int | None, typer.Option(min=1, help="Minor units; default: all that is left.")] = None,
    owed_again: Annotated[
        bool,
        typer.Option(
            "--owed-again/--credited",
            help="Owed again: the invoice reopens and reminders resume. Credited (default): a refund credit "
            "note lowers the price.",
        ),
    ] = False,
    request_id: Annotated[
        str | None, typer.Option(help="Repeat the command with the same id and it refunds once.")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Refund a payment of an invoice (all of it, or --amount)."""
    run(_refund(number, payment, reason, amount, owed_again, request_id or uuid.uuid4().hex, as_json))


async def _refund(
    number: str, payment: int, reason: str, amount: int | None, owed_again: bool, request_id: str, as_json: bool
) -> None:
    from billflow.payments.stripe import build_stripe_gateway
    from billflow.secret_box import secret_box_for
    from billflow.services import refunds

    request = refunds.RefundRequest(  # inside run(): a validation error is a message and exit 2
        payment_id=payment,
        amount_minor=amount,
        reason=reason,
        outcome=refunds.RefundOutcome.owed_again if owed_again else refunds.RefundOutcome.credited,
        request_id=request_id,
    )
    settings = get_settings()
    gateway = (
        build_stripe_gateway(
            settings.stripe_api_key,
            api_base=settings.stripe_api_base,
            max_network_retries=2,
            secrets=secret_box_for(settings),
        )
        if settings.stripe_api_key
        else None
    )
    client = await temporal_client(settings)
    async with database(settings) as db:
        try:
            made = await refunds.refund_payment(db, client, gateway, number=number, request=request, actor="cli")
        except refunds.InvoiceNotFound as err:
            fail(str(err))
        except refunds.RefundRefused as err:
            fail(str(err), code=2)
        except refunds.RefundUnavailable as err:
            fail(f"{err}: nothing was refunded; repeat with --request-id {request_id}")
        if made.client_email is not None:
            from activities.email import EmailActivities
            from billflow.email import build_email_sender

            await EmailActivities(db, build_email_sender(settings), settings).send_invoice_email(made.client_email)
    if as_json:
        print_json(made)
        return
    how = f"through Stripe ({made.stripe_refund_id})" if made.stripe_refund_id else "recorded as refunded"
    console.print(
        f"[bold]{made.number}[/]: {format_money(made.amount_minor, made.currency)} {how}; "
        f"now {made.status.value}, balance {format_money(made.balance_minor, made.currency)}"
        + (f"; credit note {made.credit_note_number}" if made.credit_note_number else "")
        + ("" if made.recorded else " (already done by this request id)")
    )
