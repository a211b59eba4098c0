"""The client record's text queries, without SQLAlchemy: the repository (billflow/repositories/clients.py, through
its session) and `billflow client show|list --json` (starter/reads/client_records.py, through psycopg) run the same SQL
(issue 11, item 15). `:name` parameters, as SQLAlchemy's text() takes them; report_sql.Query(...).pyformat gives
psycopg's spelling."""

from __future__ import annotations

# Per client and currency: invoiced (void excluded), paid, open balance and the part due before the instant
# :due_before (the end of the reporting day, as in the reports).
BALANCES = """
SELECT client_id, currency,
       COALESCE(SUM(total_minor - credited_minor) FILTER (WHERE status <> 'void'), 0) AS invoiced_minor,
       COALESCE(SUM(amount_paid_minor), 0) AS paid_minor,
       COALESCE(SUM(total_minor - credited_minor - amount_paid_minor)
                FILTER (WHERE status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')), 0)
           AS balance_minor,
       COALESCE(SUM(total_minor - credited_minor - amount_paid_minor)
                FILTER (WHERE status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')
                        AND due_at < :due_before), 0)
           AS overdue_minor,
       COUNT(*) FILTER (WHERE status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed'))
           AS open_invoices
FROM invoices
WHERE client_id = ANY(:client_ids)
GROUP BY client_id, currency
ORDER BY client_id, currency
"""

# Invoices, payments, emails (with their delivery state and events) and timeline events of :client_id, newest
# first. Issues and payments come from their own tables (the record of truth); the timeline events that merely
# repeat them are left out, every other event (transitions, staff actions, email events, notes) is kept.
TIMELINE = """
SELECT * FROM (
    SELECT i.issued_at AS at, 'invoice.issued' AS kind, i.number AS invoice_number,
           i.total_minor AS amount_minor, i.currency, i.status,
           'Invoice ' || i.number || ' issued, due ' || i.due_date AS message
    FROM invoices i WHERE i.client_id = :client_id
    UNION ALL
    SELECT p.received_at, 'payment.' || CASE WHEN p.kind = 'refund' THEN 'refunded' ELSE 'received' END,
           i.number, p.amount_minor, p.currency, NULL,
           CASE WHEN p.kind = 'refund' THEN 'Refund' ELSE 'Payment' END || ' via ' || p.provider
               || ' (' || p.method || ')' || COALESCE(': ' || p.note, '')
    FROM payments p JOIN invoices i ON i.id = p.invoice_id WHERE p.client_id = :client_id
    UNION ALL
    SELECT COALESCE(m.sent_at, m.created_at), 'email.' || m.kind, i.number, NULL, NULL, m.status,
           m.subject || ' to ' || m.to_email
    FROM email_messages m LEFT JOIN invoices i ON i.id = m.invoice_id WHERE m.client_id = :client_id
    UNION ALL
    -- Delivery events of those emails as SendGrid reported them (bounces have their own timeline event).
    SELECT w.received_at, 'email.' || w.type, i.number, NULL, NULL, w.outcome, 'Email event: ' || w.type
    FROM inbox_events w JOIN invoices i ON i.id = w.invoice_id
    WHERE i.client_id = :client_id AND w.source = 'sendgrid' AND w.processed_at IS NOT NULL
      AND w.type <> 'bounce'
    UNION ALL
    SELECT t.occurred_at, t.kind, i.number, NULL, NULL, NULL, t.message
    FROM timeline_events t LEFT JOIN invoices i ON i.id = t.invoice_id
    WHERE t.client_id = :client_id
      AND t.kind NOT IN ('invoice.issued', 'payment.received', 'payment.refunded')
) AS merged
ORDER BY at DESC, kind
LIMIT :limit
"""
