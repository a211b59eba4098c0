"""Light reads of workspaces: `billflow workspace show REF` and `workspace list --json` (issue 11, item 15).

They build the service's own output models (models/workspace_views.py, pure pydantic) from psycopg rows, so the
JSON and the table are those of billflow.services.workspaces without importing the ORM, or temporalio (which the
service brings in through billflow.secret_box -> billflow.codec, for sealing Stripe keys these reads never open).
tests/starter/test_light_workspaces.py compares the two paths.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from models.workspace_views import WorkspaceDetail, WorkspaceOut

# Every column WorkspaceOut.of reads (not the logo's bytes nor the sealed secrets: never sent over the wire here).
_COLUMNS = (
    "id, slug, name, legal_name, address_line1, postcode, city, country, vat_id, registration, iban, bic,"
    " logo_type, octet_length(logo) AS logo_bytes, sender_name, sender_email, reply_to, stripe_account_id,"
    " stripe_secret_key_hint, stripe_webhook_secret_hint, default_currency, locale, reporting_timezone,"
    " payment_terms_days, reminder_policy, invoice_footer, created_at, updated_at"
)
_INT_MAX = 2**31 - 1  # workspaces.id is an integer: a longer run of digits names no workspace


def workspace_list(conn: psycopg.Connection[tuple[Any, ...]]) -> list[WorkspaceOut]:
    """services.workspaces.list_workspaces (repositories.workspaces.list_workspaces: by id, at most 200)."""
    from psycopg.rows import dict_row

    from models.workspace_views import WorkspaceOut

    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(f"SELECT {_COLUMNS} FROM workspaces ORDER BY id LIMIT 200").fetchall()  # type: ignore[arg-type]
    return [WorkspaceOut.of_columns(row) for row in rows]


def workspace_detail(conn: psycopg.Connection[tuple[Any, ...]], ref: str) -> WorkspaceDetail | None:
    """services.workspaces.get_workspace: by id when `ref` is all digits, else by slug (_find, through
    repositories.workspaces.get_workspace), with its series (repositories.numbering.list_series: by document type)
    as _detail shows them; None for an unknown ref."""
    from psycopg.rows import dict_row, namedtuple_row

    from models.numbering_rules import NumberingSeriesOut
    from models.workspace_views import WorkspaceDetail, WorkspaceOut

    by_id = ref.isdigit()
    if by_id and int(ref) > _INT_MAX:
        return None
    where, value = ("id", int(ref)) if by_id else ("slug", ref)
    with conn.transaction():
        with conn.cursor(row_factory=dict_row) as cursor:
            row = cursor.execute(
                f"SELECT {_COLUMNS} FROM workspaces WHERE {where} = %s LIMIT 1",  # type: ignore[arg-type]
                (value,),
            ).fetchone()
        if row is None:
            return None
        with conn.cursor(row_factory=namedtuple_row) as cursor:
            series: list[Any] = cursor.execute(  # rows with the columns NumberingSeriesOut.of reads
                "SELECT document_type, prefix, pattern, reset FROM numbering_series"
                " WHERE workspace_id = %s ORDER BY document_type",
                (row["id"],),
            ).fetchall()
    year = datetime.now(UTC).year
    out = WorkspaceOut.of_columns(row)
    return WorkspaceDetail(**out.model_dump(), numbering=[NumberingSeriesOut.of(s, year=year) for s in series])
