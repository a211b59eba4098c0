"""The project's Stripe and SendGrid stand-ins (tests/standins), served on loopback for a scenario, and the
settings that point billflow's real backends at them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from bench.chaos.ledger import LedgerSummary
from bench.chaos.signing import STRIPE_WEBHOOK_SECRET, SendGridSigner


@dataclass
class Providers:
    stripe: Any  # tests.standins.stripe_api.StripeStandIn
    sendgrid: Any  # tests.standins.sendgrid_api.SendGridStandIn
    signer: SendGridSigner
    env: dict[str, str]

    def mails_per_message(self) -> Counter[tuple[str, str]]:
        """(invoice id, kind) -> mails the SendGrid stand-in accepted."""
        return Counter(
            (m["custom_args"]["billflow_invoice_id"], m["custom_args"]["billflow_kind"]) for m in self.sendgrid.mails
        )

    def post_email_events_to(self, api_url: str) -> None:
        """Let the SendGrid stand-in post a signed `processed` event for each message it accepts, as SendGrid's
        Event Webhook does."""
        self.sendgrid.event_webhook = (f"{api_url}/webhooks/sendgrid", self.signer.delivery)

    def summary(self, plain_url: str, ledger: LedgerSummary) -> LedgerSummary:
        """What the SendGrid stand-in accepted, keyed like the ledger (email idempotency key); links from the
        ledger."""
        with psycopg.connect(plain_url, autocommit=True) as conn:
            keys: dict[str, str] = dict(conn.execute("SELECT id::text, idempotency_key FROM email_messages").fetchall())
        emails: Counter[str] = Counter(
            keys.get(m["custom_args"].get("billflow_message_id", ""), "?") for m in self.sendgrid.mails
        )
        return LedgerSummary(emails=emails, links=ledger.links, link_calls=ledger.link_calls, faults=Counter())

    def sessions_per_invoice(self) -> Counter[str]:
        """invoice id -> distinct Checkout Sessions the Stripe stand-in created."""
        return Counter(s.get("metadata", {}).get("billflow_invoice_id", "?") for s in self.stripe.sessions.values())


@contextmanager
def providers(wrap: Any = None) -> Iterator[Providers]:
    """Both stand-ins on free loopback ports; `wrap(app)` may put fault injection in front of each."""
    from tests.standins.sendgrid_api import SendGridStandIn
    from tests.standins.server import serve
    from tests.standins.stripe_api import StripeStandIn

    stripe_standin, sendgrid_standin, signer = StripeStandIn(), SendGridStandIn(), SendGridSigner()
    with ExitStack() as stack:
        stripe_url = stack.enter_context(serve(wrap(stripe_standin.app) if wrap else stripe_standin.app))
        sendgrid_url = stack.enter_context(serve(wrap(sendgrid_standin.app) if wrap else sendgrid_standin.app))
        env = {
            "BILLFLOW_PAYMENT_BACKEND": "stripe",
            "STRIPE_API_KEY": "sk_test_chaos",
            "STRIPE_API_BASE": stripe_url,
            "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
            "BILLFLOW_EMAIL_BACKEND": "sendgrid",
            "SENDGRID_API_KEY": "SG.chaos",
            "SENDGRID_API_HOST": sendgrid_url,
            "SENDGRID_EVENT_PUBLIC_KEY": signer.public_key,
        }
        yield Providers(stripe=stripe_standin, sendgrid=sendgrid_standin, signer=signer, env=env)


SENDGRID_ENV = ("BILLFLOW_EMAIL_BACKEND", "SENDGRID_API_KEY", "SENDGRID_API_HOST", "SENDGRID_EVENT_PUBLIC_KEY")
