"""`billflow subscription list|show` from psycopg alone (issue 11, item 15): through
billflow.services.subscription_actions they imported the subscription runs, the workflows, temporalio and Stripe
(about 1 s). The SELECTs mirror the repository queries the service runs (billflow/repositories/subscriptions.py,
named in each docstring); the rows become what the service returns: a summary dict with SubscriptionSummary's
keys, and the very SubscriptionView (models/subscription_io.py, pydantic only), so text and --json stay as they
were (tests/starter/test_light_commands.py compares both paths).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from models.subscription_io import (
    SubscriptionStatus,
    SubscriptionView,
    interval_text,
)
from models.workspace_ids import DEFAULT_WORKSPACE_ID

if TYPE_CHECKING:
    import psycopg


def subscriptions(
    conn: psycopg.Connection[tuple[Any, ...]],
    *,
    status: str | None,
    limit: int,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> list[dict[str, Any]]:
    """The workspace's subscriptions, newest first, with SubscriptionSummary's keys (subscription_actions.
    list_subscriptions: repositories.subscriptions.list_subscriptions, its filter and order)."""
    from psycopg.rows import dict_row

    where, params = "s.workspace_id = %s", [workspace_id]
    if status is not None:
        where += " AND s.status = %s"
        params.append(status)  # type: ignore[arg-type]
    sql = (
        "SELECT s.id, s.status, c.external_id, c.name, s.currency, s.interval, s.next_period_start, s.periods_billed"
        " FROM subscriptions s JOIN clients c ON c.id = s.client_id"
        f" WHERE {where} ORDER BY s.created_at DESC LIMIT %s"
    )
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(sql, [*params, limit]).fetchall()  # type: ignore[arg-type]
    return [
        {
            "subscription_id": row["id"],
            "status": SubscriptionStatus(row["status"]).value,
            "client_external_id": row["external_id"],
            "client_name": row["name"],
            "currency": row["currency"],
            "interval": str(row["interval"].get("kind", "")),
            "schedule": interval_text(row["interval"]),
            "next_period_start": row["next_period_start"],
            "periods_billed": row["periods_billed"],
        }
        for row in rows
    ]


def subscription_view(conn: psycopg.Connection[tuple[Any, ...]], *, subscription_id: str) -> SubscriptionView | None:
    """The subscription, its plan versions and periods with their invoices, as services.subscriptions.describe
    builds it (repositories.subscriptions.get_subscription, list_invoices, list_periods, list_plans and
    clients.get_client: their orders), in one read-only transaction; None for an unknown id."""
    from psycopg.rows import namedtuple_row

    with conn.transaction(), conn.cursor(row_factory=namedtuple_row) as cursor:
        sub: Any = cursor.execute(
            "SELECT id, status, client_id, currency, interval, timezone, start_date, end_date, max_cycles, issue_hour,"
            " payment_terms_seconds, periods_billed, periods_skipped, next_period_start, ends_on, workflow_id"
            " FROM subscriptions WHERE id = %s",
            (subscription_id,),
        ).fetchone()
        if sub is None:
            return None
        client: Any = cursor.execute("SELECT external_id, name FROM clients WHERE id = %s", (sub.client_id,)).fetchone()
        assert client is not None
        billed: list[Any] = cursor.execute(
            "SELECT workflow_id, number, status, total_minor,"
            " total_minor - credited_minor - amount_paid_minor AS balance_minor"
            " FROM invoices WHERE subscription_id = %s ORDER BY period_start",
            (sub.id,),
        ).fetchall()
        periods: list[Any] = cursor.execute(
            'SELECT "index" AS period_index, period_start, period_end, outcome, invoice_workflow_id'
            " FROM subscription_periods WHERE subscription_id = %s ORDER BY period_start",
            (sub.id,),
        ).fetchall()
        plans: list[Any] = cursor.execute(
            "SELECT effective_from, lines FROM subscription_plans WHERE subscription_id = %s ORDER BY effective_from",
            (sub.id,),
        ).fetchall()
    # A namedtuple's `index` is its method: the period's position is read as `period_index`, handed on as `index`.
    periods_by_name = [SimpleNamespace(**row._asdict(), index=row.period_index) for row in periods]
    return SubscriptionView.of_rows(sub, client, billed, periods_by_name, plans)
