"""Prometheus metrics: billflow's business counters and HTTP metrics (prometheus_client), and the Temporal SDK's
own worker metrics (temporalio Runtime with PrometheusConfig) re-exported on the same /metrics page.

Counters are at-least-once: an activity retried after it committed can count its event twice.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

INVOICES_ISSUED = Counter("billflow_invoices_issued", "Invoices issued", ["currency"])
INVOICES_PAID = Counter("billflow_invoices_paid", "Invoices paid in full", ["currency"])
INVOICES_OVERDUE = Counter("billflow_invoices_overdue", "Invoices that passed their due date unpaid")
EMAILS_SENT = Counter("billflow_emails_sent", "Emails handed to the email provider", ["kind"])
PAYMENT_WEBHOOKS = Counter(
    "billflow_payment_webhooks", "Payment provider webhook deliveries by outcome", ["provider", "outcome"]
)
HTTP_REQUESTS = Counter("billflow_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram("billflow_http_request_seconds", "HTTP request duration", ["method", "route"])


# --- one-line calls for the places where the events happen ------------------------------------------


def invoice_issued(currency: str) -> None:
    INVOICES_ISSUED.labels(currency=currency).inc()


def invoice_paid(currency: str) -> None:
    INVOICES_PAID.labels(currency=currency).inc()


def invoice_overdue() -> None:
    INVOICES_OVERDUE.inc()


def email_sent(kind: str) -> None:
    EMAILS_SENT.labels(kind=kind).inc()


def payment_webhook(provider: str, outcome: object) -> None:
    PAYMENT_WEBHOOKS.labels(provider=provider, outcome=str(getattr(outcome, "value", outcome))).inc()


# --- exposition ---------------------------------------------------------------------------------------


class SdkMetricsCollector:
    """Re-exports the Temporal SDK's Prometheus endpoint (bound on a loopback port) through prometheus_client,
    so one /metrics page carries both."""

    def __init__(self, url: str) -> None:
        self.url = url

    def collect(self) -> Iterable[Metric]:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return []
        return list(text_string_to_metric_families(text))


def render(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST
