"""Read-only CLI answers straight from PostgreSQL: a psycopg connection and small hand-written SELECTs.

Every read-only command answers here: the connection, `invoice list|show`, `workspace list` and the reports in
this module, the other nouns in a module each beside it. Through the repositories they imported SQLAlchemy,
SQLModel and every table model first (about 0.4 s of a 0.6 s command); here they import psycopg only (issue 11,
item 15; bench/cli_startup.py prints the figures). The SELECTs mirror the repository queries they stand for (named
in each function's docstring); the reports run the very SQL of the API's repository
(billflow/repositories/report_sql.py) through `ReportRows`. --json gives the models' JSON, their contract, built
from the rows. A database that is not at the newest migration is first upgraded through the usual path
(starter.common.database), as every other command does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from billflow.repositories.report_sql import Query, RowSource
from starter import common

if TYPE_CHECKING:
    import psycopg


def conninfo(url: str) -> str:
    """A libpq URI from any of the database URL spellings billflow accepts (postgres://, postgresql://,
    postgresql+psycopg://); billflow.db.to_psycopg_url does the same for SQLAlchemy."""
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme.startswith("postgres"):
        return url
    return f"postgresql://{rest}"


@contextmanager
def connection(*, upgrade: bool = True) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A read-only connection to the configured database, its schema at the newest migration (with `upgrade`;
    without, as it is: `billflow db current` reports it)."""
    import psycopg

    from billflow.schema_version import head_revisions

    settings = common.get_settings()
    note = common._embedded_context(settings)
    if note:
        common.err_console.print(note)
    from billflow.db_url import database_url  # DATABASE_URL, or the embedded server started (or joined) here
    from billflow.workspace_context import ALL_WORKSPACES, WORKSPACE_SETTING

    try:
        conn = psycopg.connect(conninfo(database_url(settings)), autocommit=True)
    except psycopg.OperationalError as err:
        common.fail(f"cannot reach the database: {err}")
    with conn:
        if upgrade and not _at_head(conn, head_revisions()):
            asyncio.run(_upgrade())
        conn.execute("SET default_transaction_read_only = on")
        if settings.row_security:  # the CLI reads every workspace, as its ORM sessions do (starter.common.database)
            conn.execute("SELECT set_config(%s, %s, false)", (WORKSPACE_SETTING, ALL_WORKSPACES))
        yield conn


def _at_head(conn: psycopg.Connection[tuple[Any, ...]], heads: frozenset[str]) -> bool:
    """billflow.schema_version.at_head on this connection."""
    return bool(heads) and revisions(conn) == heads


def revisions(conn: psycopg.Connection[tuple[Any, ...]]) -> frozenset[str]:
    """The database's Alembic revisions (empty: never migrated)."""
    import psycopg

    try:
        with conn.transaction():  # a missing table fails this transaction only
            return frozenset(row[0] for row in conn.execute("SELECT version_num FROM alembic_version").fetchall())
    except psycopg.Error:
        return frozenset()


async def _upgrade() -> None:
    async with common.database():
        pass


def invoices(
    conn: psycopg.Connection[tuple[Any, ...]], *, status: str | None, client_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """The newest invoices with their client's name (repositories.invoices.list_invoices, its order)."""
    from psycopg.rows import dict_row

    where: list[str] = []
    params: list[Any] = []
    if status is not None:
        where.append("i.status = %s")
        params.append(status)
    if client_id is not None:
        where.append("i.client_id = %s")
        params.append(client_id)
    sql = (
        "SELECT i.number, c.name AS client_name, i.currency, i.total_minor,"
        " i.total_minor - i.credited_minor - i.amount_paid_minor AS balance_minor,"
        " i.status, i.viewed_at, i.issue_date, i.due_date"
        " FROM invoices i JOIN clients c ON c.id = i.client_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY i.id DESC LIMIT %s"
    )
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(sql, [*params, limit]).fetchall()  # type: ignore[arg-type]


def workspaces(conn: psycopg.Connection[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The workspaces by id (repositories.workspaces.list_workspaces, its order)."""
    from psycopg.rows import dict_row

    sql = "SELECT id, slug, name, country, vat_id, default_currency, reporting_timezone FROM workspaces"
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(sql + " ORDER BY id LIMIT 200").fetchall()


def invoice_exists(conn: psycopg.Connection[tuple[Any, ...]], *, number: str) -> bool:
    """`invoice show` of an unknown number answers without the ORM or Temporal."""
    return conn.execute("SELECT 1 FROM invoices WHERE number = %s", (number,)).fetchone() is not None


class ReportRows(RowSource):
    """The report service's rows (billflow/services/reports.py) from this connection: each query in a transaction
    of its own, after its settings, as the session path runs it (billflow/repositories/reports.py)."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self._conn = conn

    async def fetch(self, query: Query) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self._conn.transaction(), self._conn.cursor(row_factory=dict_row) as cursor:
            for setting in query.settings:
                cursor.execute(setting)
            return cursor.execute(query.pyformat, query.params).fetchall()  # type: ignore[arg-type]


@dataclass(frozen=True)
class InvoiceFacts:
    """What `billflow invoice show` prints from the database, as rows with the models' attribute names."""

    invoice: Any
    client: Any | None
    lines: list[Any]
    payments: list[Any]
    messages: list[Any]
    events: list[Any]


def invoice_facts(conn: psycopg.Connection[tuple[Any, ...]], *, number: str) -> InvoiceFacts | None:
    """One invoice and what `invoice show` lists with it (repositories.invoices.get_invoice and get_lines,
    clients.get_client, payments.list_payments, messages.list_messages, timeline.list_events: their orders and
    limits), in one read-only transaction; None for an unknown number."""
    from psycopg.rows import namedtuple_row

    with conn.transaction(), conn.cursor(row_factory=namedtuple_row) as cursor:
        invoice: Any = cursor.execute(
            "SELECT id, number, status, viewed_at, client_id, issue_date, due_date, workflow_id, payment_url, currency,"
            " tax_minor, total_minor, credited_minor, amount_paid_minor,"
            " total_minor - credited_minor - amount_paid_minor AS balance_minor"
            " FROM invoices WHERE number = %s ORDER BY id LIMIT 1",
            (number,),
        ).fetchone()
        if invoice is None:
            return None
        client = cursor.execute(
            "SELECT name, email, timezone FROM clients WHERE id = %s", (invoice.client_id,)
        ).fetchone()
        lines = cursor.execute(
            "SELECT description, quantity, unit_price_minor, tax_rate_bp, total_minor FROM invoice_lines"
            " WHERE invoice_id = %s ORDER BY position",
            (invoice.id,),
        ).fetchall()
        payments = cursor.execute(
            "SELECT received_at, kind, provider, provider_reference, amount_minor FROM payments"
            " WHERE invoice_id = %s ORDER BY received_at",
            (invoice.id,),
        ).fetchall()
        messages = cursor.execute(
            "SELECT created_at, kind, reminder_step, to_email, status, subject FROM email_messages"
            " WHERE invoice_id = %s ORDER BY id DESC LIMIT 50",
            (invoice.id,),
        ).fetchall()
        events = cursor.execute(
            "SELECT occurred_at, kind, message FROM timeline_events"
            " WHERE invoice_id = %s ORDER BY occurred_at, id LIMIT 200",
            (invoice.id,),
        ).fetchall()
    return InvoiceFacts(invoice, client, lines, payments, messages, events)


def invoices_with_clients(
    conn: psycopg.Connection[tuple[Any, ...]], *, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """`invoice list --json`: every column of the newest invoices, each with its client's
    (repositories.invoices.list_invoices, its order), as the models' `model_dump(mode="json")` spells them."""
    from psycopg.rows import dict_row
    from pydantic_core import to_jsonable_python

    where, params = ("WHERE status = %s", [status]) if status is not None else ("", [])
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        found = cursor.execute(
            f"SELECT * FROM invoices {where} ORDER BY id DESC LIMIT %s",  # type: ignore[arg-type]
            [*params, limit],
        ).fetchall()
        ids = list({row["client_id"] for row in found})
        clients = {row["id"]: row for row in cursor.execute("SELECT * FROM clients WHERE id = ANY(%s)", [ids])}
    return [{**to_jsonable_python(row), "client": to_jsonable_python(clients[row["client_id"]])} for row in found]
