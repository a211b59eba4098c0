"""The report queries' SQL and their parameters, without SQLAlchemy: the API's repository
(billflow/repositories/reports.py, through SQLAlchemy) and the CLI's psycopg reads (starter/reads.py) run the
same text (issue 11, item 15: the report commands start without the ORM).

Each builder returns a `Query`: the SQL with SQLAlchemy's `:name` parameters, its parameters, and `.pyformat`, the
same SQL in psycopg's `%(name)s` style. Every query runs after `SESSION_SETTINGS`, in the same transaction.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

# These queries run in milliseconds from indexes; JIT compiling them would cost more (~40 ms) than it saves.
# Plans are made for each call's own dates too: psycopg prepares a statement run five times on a connection, and
# PostgreSQL's generic plan for it cannot see how narrow a date range is (reminder effectiveness went from 20 ms
# to 500 ms from the sixth call on, bench/app_pages.py).
SESSION_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL plan_cache_mode = force_custom_plan")

# `:name` not preceded by another colon or a word character: `::date` casts and `a:b` in comments stay as written.
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Query:
    """One report query: SQL with `:name` parameters (SQLAlchemy's text()), the values bound to them, and the
    settings that precede it in its transaction."""

    sql: str
    params: dict[str, Any]
    settings: tuple[str, ...] = SESSION_SETTINGS

    @property
    def pyformat(self) -> str:
        """The same SQL with psycopg's `%(name)s` parameters (a literal % doubled)."""
        return _NAMED.sub(r"%(\1)s", self.sql.replace("%", "%%"))


class RowSource(ABC):
    """What runs a Query without a SQLAlchemy session: the CLI's psycopg connection (starter/reads.py). The
    report service (billflow/services/reports.py) takes either."""

    @abstractmethod
    async def fetch(self, query: Query) -> Sequence[Mapping[str, Any]]:
        """The query's rows as mappings of column name to value, in the query's order."""


# Invoices unsettled at the end of :as_of, with their balance at that instant (:cutoff, the next midnight in the
# reporting zone :tz). An invoice counts once issued before the cutoff (its instant, not the client-local issue
# date, so a client east or west of the reporting zone is counted the same day as everywhere else). Days past due
# are reporting-zone days: 1 on the day the due instant passes (`due_at < cutoff`), 0 or less before.
# Three disjoint parts, each served by an index, instead of one scan of every invoice ever issued:
#   1. unsettled today (ix_invoices_unsettled_due, index-only);
#   2. paid today but with money received after the cutoff (the few rows of `later`, by primary key);
#   3. voided or written off after the cutoff (ix_invoices_closed_at).
# The balance adds back what was received after the cutoff instead of summing every payment before it, so only
# recent payments are read (ix_payments_received_cover).
RECEIVABLE_AS_OF = """
WITH later_parts AS (
    SELECT invoice_id,
           SUM(CASE WHEN kind = 'refund' THEN -amount_minor ELSE amount_minor END) AS paid_later
    FROM payments
    WHERE workspace_id = :workspace_id AND received_at >= :cutoff
    GROUP BY invoice_id
    -- Credit notes lower what is owed (issue 14); those issued after the cutoff are added back like payments.
    UNION ALL
    SELECT invoice_id, SUM(total_minor) AS paid_later
    FROM credit_notes
    WHERE workspace_id = :workspace_id AND issued_at >= :cutoff
    GROUP BY invoice_id
),
later_by_invoice AS (
    SELECT invoice_id, SUM(paid_later) AS paid_later FROM later_parts GROUP BY invoice_id
),
balances AS (
    SELECT i.client_id, i.currency, i.due_at,
           i.total_minor - i.credited_minor - i.amount_paid_minor + COALESCE(l.paid_later, 0) AS balance
    FROM invoices i LEFT JOIN later_by_invoice l ON l.invoice_id = i.id
    WHERE i.workspace_id = :workspace_id
      AND i.status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed') AND i.issued_at < :cutoff
    UNION ALL
    SELECT i.client_id, i.currency, i.due_at, i.total_minor - i.credited_minor - i.amount_paid_minor + l.paid_later
    FROM later_by_invoice l JOIN invoices i ON i.id = l.invoice_id
    WHERE i.workspace_id = :workspace_id AND i.status = 'paid' AND i.issued_at < :cutoff
    UNION ALL
    SELECT i.client_id, i.currency, i.due_at,
           i.total_minor - i.credited_minor - i.amount_paid_minor + COALESCE(l.paid_later, 0)
    FROM invoices i LEFT JOIN later_by_invoice l ON l.invoice_id = i.id
    WHERE i.workspace_id = :workspace_id
      AND i.status IN ('void', 'uncollectible') AND COALESCE(i.voided_at, i.written_off_at) >= :cutoff
      AND i.issued_at < :cutoff
),
receivable AS (
    SELECT client_id, currency, due_at, balance,
           (CAST(:as_of AS date) + 1 - CAST(due_at AT TIME ZONE :tz AS date)) AS days_past_due
    FROM balances
    WHERE balance > 0
)
"""

AGING_BY_CURRENCY = (
    RECEIVABLE_AS_OF
    + """
SELECT currency,
       COALESCE(SUM(balance) FILTER (WHERE days_past_due <= 0), 0) AS current_minor,
       COALESCE(SUM(balance) FILTER (WHERE days_past_due BETWEEN 1 AND 30), 0) AS days_1_30_minor,
       COALESCE(SUM(balance) FILTER (WHERE days_past_due BETWEEN 31 AND 60), 0) AS days_31_60_minor,
       COALESCE(SUM(balance) FILTER (WHERE days_past_due BETWEEN 61 AND 90), 0) AS days_61_90_minor,
       COALESCE(SUM(balance) FILTER (WHERE days_past_due > 90), 0) AS over_90_minor,
       SUM(balance) AS total_minor,
       COUNT(*) AS invoice_count
FROM receivable
GROUP BY currency
ORDER BY currency
"""
)

TOP_OVERDUE_CLIENTS = (
    RECEIVABLE_AS_OF
    + """
SELECT c.id AS client_id, c.external_id, c.name, c.email, t.currency, t.overdue_minor, t.invoice_count,
       t.oldest_days_past_due
FROM (
    -- Rank per client first, so only the top rows meet the clients table.
    SELECT client_id, currency, SUM(balance) AS overdue_minor, COUNT(*) AS invoice_count,
           MAX(days_past_due) AS oldest_days_past_due
    FROM receivable
    WHERE days_past_due > 0
    GROUP BY client_id, currency
    ORDER BY overdue_minor DESC, client_id
    LIMIT :limit
) AS t
JOIN clients c ON c.id = t.client_id
ORDER BY t.overdue_minor DESC, c.id
"""
)

CASH_COLLECTED = """
-- Sum per (period, currency, kind) first: one plain aggregate per payment row, the pivot runs on the few groups.
SELECT period, currency,
       COALESCE(SUM(amount) FILTER (WHERE kind <> 'refund'), 0) AS received_minor,
       COALESCE(SUM(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded_minor,
       SUM(CASE WHEN kind = 'refund' THEN -amount ELSE amount END) AS net_minor,
       COALESCE(SUM(n) FILTER (WHERE kind <> 'refund'), 0) AS payment_count,
       COALESCE(SUM(n) FILTER (WHERE kind = 'refund'), 0) AS refund_count
FROM (
    SELECT (date_trunc(:grain, received_at AT TIME ZONE :tz))::date AS period, currency, kind,
           SUM(amount_minor) AS amount, COUNT(*) AS n
    FROM payments
    WHERE workspace_id = :workspace_id AND received_at >= :start AND received_at < :end
    GROUP BY 1, 2, 3
) AS per_kind
GROUP BY period, currency
ORDER BY period, currency
"""

# The issue-date range (client-local dates, at most a day and a bit from any zone's) keeps the covering index in
# play; the instant decides.
CREDIT_SALES = """
SELECT currency, SUM(amount) AS sales_minor, COUNT(*) FILTER (WHERE is_invoice) AS invoice_count
FROM (
    SELECT currency, total_minor AS amount, TRUE AS is_invoice
    FROM invoices
    WHERE workspace_id = :workspace_id AND issue_date BETWEEN CAST(:start AS date) - 2 AND CAST(:end AS date) + 2
      AND issued_at >= :start AND issued_at < :end AND status <> 'void'
    UNION ALL
    SELECT n.currency, -n.total_minor, FALSE
    FROM credit_notes n JOIN invoices i ON i.id = n.invoice_id
    WHERE n.workspace_id = :workspace_id AND n.issued_at >= :start AND n.issued_at < :end AND i.status <> 'void'
) AS sales
GROUP BY currency
ORDER BY currency
"""

REMINDER_EFFECTIVENESS = """
SELECT m.reminder_step AS step,
       COUNT(DISTINCT m.invoice_id) AS reminded,
       COUNT(DISTINCT m.invoice_id) FILTER (
           WHERE p.paid_at >= m.sent_at AND p.paid_at < m.sent_at + make_interval(days => :within_days)
       ) AS paid_within
FROM email_messages m
-- Only invoices paid since the window opened can count: read them from ix_invoices_paid_at, not every invoice.
LEFT JOIN (SELECT id, paid_at FROM invoices WHERE workspace_id = :workspace_id AND paid_at >= :start) AS p
       ON p.id = m.invoice_id
WHERE m.workspace_id = :workspace_id
  AND m.reminder_step IS NOT NULL
  AND m.invoice_id IS NOT NULL
  AND m.sent_at IS NOT NULL
  AND m.sent_at >= :start AND m.sent_at < :end
GROUP BY m.reminder_step
ORDER BY m.reminder_step
"""


def aging_by_currency(*, workspace_id: int, as_of: date, cutoff: datetime, zone: str) -> Query:
    """Open balances at the end of as_of by currency, in buckets of days past due (0 or less is current)."""
    return Query(AGING_BY_CURRENCY, {"workspace_id": workspace_id, "as_of": as_of, "cutoff": cutoff, "tz": zone})


def top_overdue_clients(*, workspace_id: int, as_of: date, cutoff: datetime, zone: str, limit: int) -> Query:
    """Clients with the largest balances past due at the end of as_of, per currency."""
    params = {"workspace_id": workspace_id, "as_of": as_of, "cutoff": cutoff, "tz": zone, "limit": limit}
    return Query(TOP_OVERDUE_CLIENTS, params)


def cash_collected(*, workspace_id: int, grain: str, start: datetime, end: datetime, time_zone: str) -> Query:
    """Payments minus refunds received in [start, end), per period (day, week, month) and currency."""
    if grain not in ("day", "week", "month"):
        raise ValueError(f"unknown grain {grain!r}")
    params = {"workspace_id": workspace_id, "grain": grain, "start": start, "end": end, "tz": time_zone}
    return Query(CASH_COLLECTED, params)


def credit_sales(*, workspace_id: int, start: datetime, end: datetime) -> Query:
    """Invoiced totals issued in [start, end) per currency, net of the credit notes issued in it (issue 14);
    void invoices are excluded (they were never owed), and so are their cancellation credit notes."""
    return Query(CREDIT_SALES, {"workspace_id": workspace_id, "start": start, "end": end})


def reminder_effectiveness(*, workspace_id: int, within_days: int, start: datetime, end: datetime) -> Query:
    """Per reminder step sent in [start, end): how many invoices got it and how many were paid within N days."""
    params = {"workspace_id": workspace_id, "within_days": within_days, "start": start, "end": end}
    return Query(REMINDER_EFFECTIVENESS, params)


def unsettled_invoices(
    *, workspace_id: int, due_from: datetime | None, due_to: datetime | None, overdue_only: bool, limit: int
) -> Query:
    """The dashboard's lists: unsettled invoices by due date (served by ix_invoices_unsettled_due), optionally
    those whose due instant falls in [due_from, due_to).

    Only the conditions asked for are written (no `:param IS NULL OR ...`: a prepared statement's generic plan
    cannot drop those), and a due instant range also bounds the due date, which the index is ordered by: the
    due instant is the end of the due day in the client's zone, within two days of that date in UTC, so the
    "due soon" list reads its week of the index instead of every overdue invoice before it."""
    # Overdue alone, not "unsettled and overdue": PostgreSQL multiplies the two conditions' selectivities, and on
    # that underestimate it read the workspace's whole unsettled range instead of its first page (110 ms, 18 ms).
    status = (
        "i.status = 'overdue'"
        if overdue_only
        else "i.status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')"
    )
    conditions = ["i.workspace_id = :workspace_id", status]
    params: dict[str, Any] = {"workspace_id": workspace_id, "limit": limit}
    if due_from is not None:
        conditions += ["i.due_at >= :due_from", "i.due_date >= CAST(:due_from_day AS date) - 2"]
        params |= {"due_from": due_from, "due_from_day": due_from.date()}
    if due_to is not None:
        conditions += ["i.due_at < :due_to", "i.due_date <= CAST(:due_to_day AS date) + 2"]
        params |= {"due_to": due_to, "due_to_day": due_to.date()}
    sql = f"""
SELECT i.number, i.status, i.currency, i.total_minor, i.amount_paid_minor,
       i.total_minor - i.credited_minor - i.amount_paid_minor AS balance_minor,
       i.due_date, i.due_at, i.reminders_paused,
       c.name AS client_name, c.external_id AS client_external_id
FROM invoices i
JOIN clients c ON c.id = i.client_id
WHERE {" AND ".join(conditions)}
ORDER BY i.due_date, i.id
LIMIT :limit
"""  # the conditions are fixed strings above; every value is a bound parameter
    # The dashboard's lists were never run with the report settings: they keep PostgreSQL's defaults.
    return Query(sql, params, settings=())
