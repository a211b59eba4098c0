"""Light read of the reference rates: `billflow interest rates list` (issue 11, item 15).

Through billflow.services.interest the command imported SQLAlchemy, every table model and temporalio (the service
also issues interest invoices); here psycopg alone. Rows are named as models.collections.ReferenceRate's fields,
so the table prints from either and `--json` dumps the same document (tests/starter/test_light_workspaces.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg


def rates(conn: psycopg.Connection[tuple[Any, ...]], *, rate: str | None) -> list[Any]:
    """services.interest.list_rates (repositories.reference_rates.list_rates: by rate, then first day)."""
    from psycopg.rows import namedtuple_row

    where, params = (" WHERE rate = %s", (rate,)) if rate is not None else ("", ())
    with conn.cursor(row_factory=namedtuple_row) as cursor:
        return cursor.execute(
            "SELECT id, rate, valid_from, valid_to, rate_bp, source, created_at FROM reference_rates"  # type: ignore[arg-type]
            + where
            + " ORDER BY rate, valid_from",
            params,
        ).fetchall()
