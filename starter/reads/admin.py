"""Light reads of what an operator lists: API keys, staff users, integrations, the service catalog, sent emails.

Each returns rows named and ordered as the service's output model (the docstring names the query it mirrors), so
one print function serves both and `--json` dumps the same document (tests/starter/test_light_commands.py compares
the two paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg


def _rows(conn: psycopg.Connection[tuple[Any, ...]], sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    from psycopg.rows import namedtuple_row

    with conn.cursor(row_factory=namedtuple_row) as cursor:
        return cursor.execute(sql, params).fetchall()  # type: ignore[arg-type]


def api_keys(conn: psycopg.Connection[tuple[Any, ...]], *, include_revoked: bool) -> list[Any]:
    """services.api_keys.list_keys over every workspace (repositories.api_keys.list_keys: by id), as ApiKeyOut."""
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    return _rows(
        conn,
        "SELECT key_id, name, role, workspace_id, created_at, revoked_at, last_used_at FROM api_keys"
        + where
        + " ORDER BY id",
    )


def users(conn: psycopg.Connection[tuple[Any, ...]]) -> list[Any]:
    """services.users.list_users over every workspace (repositories.users.list_users: by address), as UserOut."""
    return _rows(
        conn,
        "SELECT id, workspace_id, email, name, role,"
        " password_hash IS NOT NULL AND disabled_at IS NULL AS active,"
        " password_hash IS NULL AND disabled_at IS NULL AS invited,"
        " session_epoch, created_at, last_login_at, '' AS workspace_name"
        " FROM staff_users ORDER BY email",
    )


def integrations(conn: psycopg.Connection[tuple[Any, ...]]) -> list[Any]:
    """services.integrations.list_integrations over every workspace (by id), as IntegrationOut."""
    return _rows(conn, "SELECT name, created_at, secret_rotated_at AS rotated_at FROM integrations ORDER BY id")


def catalog_entries(conn: psycopg.Connection[tuple[Any, ...]], *, workspace_id: int) -> list[Any]:
    """services.catalog.list_entries (repositories.catalog.list_entries: by event type), as CatalogEntryOut."""
    return _rows(
        conn,
        "SELECT event_type, service_name, unit_price_minor, currency, tax_rate_bp, created_at, updated_at"
        " FROM service_catalog WHERE workspace_id = %s ORDER BY event_type",
        (workspace_id,),
    )


# Every column of models.email_messages.EmailMessage, in its fields' order: `billflow outbox --json` dumps them all.
_MESSAGE_COLUMNS = (
    "id, workspace_id, idempotency_key, invoice_id, client_id, kind, reminder_step, to_email, subject, body_text,"
    " body_html, backend, provider_message_id, status, error, attempts, created_at, sent_at, updated_at,"
    " credit_note_id"
)


def messages(conn: psycopg.Connection[tuple[Any, ...]], *, message_id: int | None, limit: int) -> list[Any]:
    """One email by id (repositories.messages.get_message), or the newest `limit` (list_messages: newest first)."""
    if message_id is not None:
        return _rows(conn, f"SELECT {_MESSAGE_COLUMNS} FROM email_messages WHERE id = %s", (message_id,))
    return _rows(conn, f"SELECT {_MESSAGE_COLUMNS} FROM email_messages ORDER BY id DESC LIMIT %s", (limit,))


def as_json(rows: list[Any]) -> list[dict[str, Any]]:
    """Rows as the models' `model_dump(mode="json")` spells them (datetimes in ISO 8601 with Z, as pydantic does)."""
    from pydantic_core import to_jsonable_python

    return [to_jsonable_python(row._asdict()) for row in rows]
