"""`billflow client show` and `client list --json` from psycopg alone (issue 11, item 15): through
billflow.services.clients they imported SQLAlchemy and every table model first. The SELECTs mirror the repository
queries the service runs (billflow/repositories/clients.py, named in each docstring; the balances and the merged
timeline run the repository's own SQL, billflow/repositories/client_sql.py). The rows are dicts with the keys of
the service's models' model_dump(), so the same print code and --json serve both (tests/starter/
test_light_commands.py compares the two paths).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from billflow.repositories import client_sql
from billflow.repositories.report_sql import Query

if TYPE_CHECKING:
    import psycopg


class NoSuchClient(LookupError):
    """No client with the external id, or several sources' (services.clients.ClientNotFound and AmbiguousClient,
    in their words)."""


_BALANCE_KEYS = ("currency", "invoiced_minor", "paid_minor", "balance_minor", "overdue_minor", "open_invoices")


def client_summaries(
    conn: psycopg.Connection[tuple[Any, ...]], *, query: str | None, limit: int, offset: int, due_before: datetime
) -> list[dict[str, Any]]:
    """Clients by name with their balances, as services.clients.list_clients returns them over every workspace
    (repositories.clients.search_clients, then .balances with the end of the reporting day `due_before`)."""
    from psycopg.rows import dict_row

    where, params = "", []
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        where = " WHERE name ILIKE %s ESCAPE '\\' OR email ILIKE %s ESCAPE '\\' OR external_id ILIKE %s ESCAPE '\\'"
        params = [pattern, pattern, pattern]
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        found = cursor.execute(
            "SELECT id, external_id, source, name, email, timezone, email_bounced FROM clients"
            + where
            + " ORDER BY name, id LIMIT %s OFFSET %s",
            [*params, limit, offset],
        ).fetchall()
        by_client = _balances(cursor, [row["id"] for row in found], due_before)
    return [_summary(row, by_client.get(row["id"], [])) for row in found]


def client_detail(
    conn: psycopg.Connection[tuple[Any, ...]],
    *,
    external_id: str,
    source: str | None,
    due_before: datetime,
    timeline_limit: int,
) -> dict[str, Any]:
    """What `client show` prints: services.clients.client_detail's ClientDetail (repositories.clients.find_clients,
    balances, client_invoices, client_payments, get_client_settings: their orders and limits) and, under
    "timeline", client_timeline's entries, as model_dump() gives them; in one read-only transaction.
    NoSuchClient for an unknown id, or one that several sources use when `source` is not given."""
    from psycopg.rows import dict_row

    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        client = _the_client(cursor, external_id, source)
        balances = _balances(cursor, [client["id"]], due_before).get(client["id"], [])
        invoices = cursor.execute(
            "SELECT number, status, currency, total_minor, amount_paid_minor,"
            " total_minor - credited_minor - amount_paid_minor AS balance_minor, issue_date, due_date, reminders_paused"
            " FROM invoices WHERE client_id = %s ORDER BY issued_at DESC, id DESC LIMIT 100",
            (client["id"],),
        ).fetchall()
        payments = cursor.execute(
            "SELECT i.number AS invoice_number, p.kind, p.provider, p.method, p.amount_minor, p.currency,"
            " p.received_at, p.note FROM payments p JOIN invoices i ON i.id = p.invoice_id"
            " WHERE p.client_id = %s ORDER BY p.received_at DESC, p.id DESC LIMIT 100",
            (client["id"],),
        ).fetchall()
        settings = cursor.execute(
            "SELECT reminders_paused, auto_pay, reminder_policy FROM client_settings WHERE client_id = %s",
            (client["id"],),
        ).fetchone()
        timeline_query = Query(client_sql.TIMELINE, {"client_id": client["id"], "limit": timeline_limit}, settings=())
        timeline = cursor.execute(timeline_query.pyformat, timeline_query.params).fetchall()
    return {
        **_summary(client, balances),
        "settings": _reminder_settings(settings),
        "invoices": invoices,
        "payments": payments,
        "timeline": timeline,
    }


def reminder_settings_of(
    conn: psycopg.Connection[tuple[Any, ...]], *, external_id: str, source: str | None
) -> dict[str, Any]:
    """`client settings ID` without a change: services.clients.require_client, then reminder_settings, as
    ReminderSettings.model_dump() gives them; NoSuchClient as client_detail raises it."""
    from psycopg.rows import dict_row

    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        client = _the_client(cursor, external_id, source)
        row = cursor.execute(
            "SELECT reminders_paused, auto_pay, reminder_policy FROM client_settings WHERE client_id = %s",
            (client["id"],),
        ).fetchone()
    return _reminder_settings(row)


def document_settings_of(conn: psycopg.Connection[tuple[Any, ...]], *, external_id: str) -> dict[str, Any]:
    """`client documents ID` without a change: services.client_documents.document_settings, as DocumentSettings'
    model_dump() gives it; NoSuchClient as client_detail raises it."""
    from psycopg.rows import dict_row

    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        client = _the_client(cursor, external_id, None)
        row = cursor.execute(
            "SELECT external_id, einvoice_format, buyer_reference FROM clients WHERE id = %s", (client["id"],)
        ).fetchone()
    assert row is not None
    return row


def _the_client(cursor: psycopg.Cursor[dict[str, Any]], external_id: str, source: str | None) -> dict[str, Any]:
    """services.clients.require_client (repositories.clients.find_clients), in its words."""
    found = cursor.execute(
        "SELECT id, external_id, source, name, email, timezone, email_bounced FROM clients"
        " WHERE external_id = %s" + (" AND source = %s" if source is not None else "") + " ORDER BY id LIMIT 20",
        (external_id, source) if source is not None else (external_id,),
    ).fetchall()
    if not found:
        where = f" from source {source!r}" if source else ""
        raise NoSuchClient(f"no client with external id {external_id!r}{where}")
    if len(found) > 1:
        sources = ", ".join(c["source"] for c in found)
        raise NoSuchClient(f"external id {external_id!r} is used by several sources ({sources}): give the source")
    return found[0]


def _balances(cursor: psycopg.Cursor[dict[str, Any]], client_ids: list[int], due_before: datetime) -> dict[int, Any]:
    """repositories.clients.balances per client, each row with services.clients.Balance's keys (whole numbers)."""
    if not client_ids:
        return {}
    query = Query(client_sql.BALANCES, {"client_ids": client_ids, "due_before": due_before}, settings=())
    by_client: dict[int, list[dict[str, Any]]] = {}
    for row in cursor.execute(query.pyformat, query.params).fetchall():
        balance = {key: row[key] if key == "currency" else int(row[key]) for key in _BALANCE_KEYS}
        by_client.setdefault(row["client_id"], []).append(balance)
    return by_client


def _summary(client: dict[str, Any], balances: list[dict[str, Any]]) -> dict[str, Any]:
    """services.clients.ClientSummary's keys, in its order."""
    keys = ("external_id", "source", "name", "email", "timezone", "email_bounced")
    return {**{key: client[key] for key in keys}, "balances": balances}


def _reminder_settings(row: dict[str, Any] | None) -> dict[str, Any]:
    """services.clients.reminder_settings: the business defaults for a client without settings; a stored policy
    is validated as the service does, so defaults it leaves out are filled in the same way."""
    if row is None:
        return {"reminders_paused": False, "auto_pay": False, "reminder_policy": None}
    policy = None
    if row["reminder_policy"]:
        from models.workflow_io import ReminderPolicy  # pydantic only, and only for a client with its own policy

        policy = ReminderPolicy.model_validate(row["reminder_policy"]).model_dump()
    return {"reminders_paused": row["reminders_paused"], "auto_pay": row["auto_pay"], "reminder_policy": policy}
