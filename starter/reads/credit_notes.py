"""`billflow credit-note list|show` (and `document show` without --pdf) from psycopg alone (issue 11, item 15):
through billflow.services.credit_notes and .documents they imported SQLAlchemy and every table model first. The
SELECTs mirror the repository queries those services run (named in each docstring); a list row has
CreditNoteSummary's keys, and a document is built by the services' own builder (billflow/services/
document_content.py) from rows with the models' attribute names, so text and --json stay as they were
(tests/starter/test_light_commands.py compares both paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from billflow.config import Settings
    from models.documents import InvoiceDocument


def credit_notes(
    conn: psycopg.Connection[tuple[Any, ...]], *, invoice_number: str | None, limit: int
) -> list[dict[str, Any]]:
    """Every workspace's credit notes, newest first, with CreditNoteSummary's keys (services.credit_notes.
    list_credit_notes: repositories.invoices.get_invoice by number, then repositories.credit_notes.
    list_credit_notes, its order); an unknown invoice has none."""
    from psycopg.rows import dict_row

    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        where, params = "", []
        if invoice_number is not None:
            invoice = cursor.execute(
                "SELECT id FROM invoices WHERE number = %s ORDER BY id LIMIT 1", (invoice_number,)
            ).fetchone()
            if invoice is None:
                return []
            where, params = " WHERE n.invoice_id = %s", [invoice["id"]]
        return cursor.execute(
            "SELECT n.number, i.number AS invoice_number, n.kind, n.reason, n.currency, n.subtotal_minor,"
            " n.tax_minor, n.total_minor, n.issue_date, n.refund_reference"
            " FROM credit_notes n JOIN invoices i ON i.id = n.invoice_id" + where + " ORDER BY n.id DESC LIMIT %s",
            [*params, limit],
        ).fetchall()


_INVOICE = (
    "SELECT id, number, kind, status, client_id, currency, issue_date, due_date, issued_at, service_date,"
    " period_start, period_end, memo, seller, buyer, tax_breakdown, payment_means, payment_url, public_token,"
    " total_minor, amount_paid_minor, credited_minor, deposit_invoice_id,"
    " total_minor - credited_minor - amount_paid_minor AS balance_minor FROM invoices"
)
_LINES = (
    "SELECT position, description, quantity, unit_price_minor, subtotal_minor, tax_rate_bp, tax_category,"
    " exemption_reason FROM {table} WHERE {owner} = %s ORDER BY position"
)
_CLIENT = "SELECT name, email, kind, address_line1, postcode, city, country, vat_id FROM clients WHERE id = %s"


def document(conn: psycopg.Connection[tuple[Any, ...]], *, number: str, settings: Settings) -> InvoiceDocument | None:
    """The credit note (or invoice) with this number as issued, as services.documents.load_document reads it
    (repositories.credit_notes.get_credit_note, get_lines and list_credit_notes; invoices.get_invoice and
    get_lines; clients.get_client), in one read-only transaction; None when neither has the number."""
    from psycopg.rows import namedtuple_row

    from billflow.services.document_content import credit_note_document, invoice_document

    with conn.transaction(), conn.cursor(row_factory=namedtuple_row) as rows:
        cursor: Any = rows  # rows named as the models' attributes: what the builder reads
        note = cursor.execute(
            "SELECT id, number, invoice_id, kind, reason, currency, issue_date, issued_at, seller, buyer,"
            " tax_breakdown FROM credit_notes WHERE number = %s ORDER BY id LIMIT 1",
            (number,),
        ).fetchone()
        if note is not None:
            invoice = cursor.execute(_INVOICE + " WHERE id = %s", (note.invoice_id,)).fetchone()
            client = cursor.execute(_CLIENT, (invoice.client_id,)).fetchone()
            lines = cursor.execute(
                _LINES.format(table="credit_note_lines", owner="credit_note_id"), (note.id,)
            ).fetchall()
            return credit_note_document(note, lines, invoice=invoice, client=client, settings=settings)
        invoice = cursor.execute(_INVOICE + " WHERE number = %s ORDER BY id LIMIT 1", (number,)).fetchone()
        if invoice is None:
            return None
        client = cursor.execute(_CLIENT, (invoice.client_id,)).fetchone()
        lines = cursor.execute(_LINES.format(table="invoice_lines", owner="invoice_id"), (invoice.id,)).fetchall()
        deposit = None
        if invoice.deposit_invoice_id is not None:
            deposit = cursor.execute(_INVOICE + " WHERE id = %s", (invoice.deposit_invoice_id,)).fetchone()
        notes = cursor.execute(
            "SELECT number, issue_date FROM credit_notes WHERE invoice_id = %s ORDER BY id DESC LIMIT 100",
            (invoice.id,),
        ).fetchall()
    return invoice_document(invoice, client, lines, settings=settings, deposit=deposit, credit_notes=notes)
