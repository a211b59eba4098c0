"""PostgreSQL row-level security, the second wall between workspaces (migration 0a1b2c3d4e41, billflow/db.py).

Superusers and table owners bypass row-level security, and the test database's tables are owned by the role
that migrated them. So these tests read as `billflow_rls_app`, a role that owns nothing (NOLOGIN, granted the
application's privileges), entered with SET ROLE on each connection: what an installation gets by putting a
role like it in DATABASE_URL (docs/workspaces.md, "Row-level security").
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import psycopg
import pytest
from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DBAPIError

from billflow.config import Settings
from billflow.db import ALL_WORKSPACES, Database, workspace_scope
from billflow.services import api_keys
from billflow.web.app import create_app
from billflow.web.webhooks.booking_events import EVENT_EXAMPLES
from models.api_keys import ApiRole
from models.columns import DEFAULT_WORKSPACE_ID
from tests.workspaces.support import make_invoice, make_workspace

APP_ROLE = "billflow_rls_app"
UNFILTERED = "SELECT number FROM invoices"  # no workspace filter: the query a careless change would write


def _grant(database_url: str) -> None:
    admin = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        try:
            conn.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass  # roles are the server's; another test session made it
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
        conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


def _as_app_role(database: Database) -> None:
    @event.listens_for(database.engine.sync_engine, "connect")
    def _enter(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.execute(f"SET ROLE {APP_ROLE}")
        dbapi_connection.commit()  # SET ROLE outlives the transaction only once committed


@pytest.fixture
async def app_db(db: Database, database_url: str) -> AsyncIterator[Database]:
    """The test database as the application role, with row security on and no bypass for unscoped sessions."""
    _grant(database_url)
    database = Database(database_url, pool_size=1, row_security=True)
    _as_app_role(database)
    yield database
    await database.dispose()


async def _numbers(database: Database, **scope: Any) -> set[str]:
    async with database.session(**scope) as session:
        return set((await session.execute(text(UNFILTERED))).scalars())


async def test_a_query_without_the_workspace_filter_returns_only_the_workspaces_rows(
    db: Database, app_db: Database
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, _ = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    invoice_b, _ = await make_invoice(db, workspace_id=b.id)

    seen_by_b = await _numbers(app_db, workspace=b.id)
    assert invoice_b.number in seen_by_b
    assert invoice_a.number not in seen_by_b
    assert seen_by_b == {invoice_b.number}  # nothing of any other workspace either


async def test_the_task_scope_narrows_every_session(db: Database, app_db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    await make_invoice(db, workspace_id=b.id)
    with workspace_scope(b.id):  # what billflow/web/auth does once a key of workspace B is verified
        async with app_db.session() as session:
            clients = set((await session.execute(text("SELECT id FROM clients"))).scalars())
            invoices = set((await session.execute(text(UNFILTERED))).scalars())
    assert client_a.id not in clients
    assert invoice_a.number not in invoices


async def test_a_session_in_no_workspace_sees_no_rows(db: Database, app_db: Database) -> None:
    await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    assert await _numbers(app_db) == set()


async def test_the_named_bypass_sees_every_workspace(db: Database, app_db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, _ = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    invoice_b, _ = await make_invoice(db, workspace_id=b.id)
    assert {invoice_a.number, invoice_b.number} <= await _numbers(app_db, workspace=ALL_WORKSPACES)


async def test_a_row_cannot_be_written_into_another_workspace(db: Database, app_db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    _, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_db.session(workspace=b.id) as session:
            await session.execute(
                text(
                    "INSERT INTO timeline_events (workspace_id, client_id, kind, message, data, occurred_at) "
                    "VALUES (:ws, :client, 'note', 'x', '{}', now())"
                ),
                {"ws": DEFAULT_WORKSPACE_ID, "client": client_a.id},
            )


async def test_an_update_without_the_filter_leaves_other_workspaces_alone(db: Database, app_db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    _, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    async with app_db.session(workspace=b.id) as session:
        await session.execute(text("UPDATE clients SET name = 'renamed'"))
    async with db.session() as session:
        name = (await session.execute(text("SELECT name FROM clients WHERE id = :id"), {"id": client_a.id})).scalar()
    assert name == client_a.name


async def test_the_migration_enables_row_security_on_every_workspace_table(db: Database) -> None:
    async with db.session() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
                    "WHERE a.attname = 'workspace_id' AND c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
                )
            )
        ).all()
    unprotected = {name for name, secured in rows if not secured} - {"numbering_series"}
    assert unprotected == set()


@pytest.fixture
async def rls_http(db: Database, database_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API as `billflow api` runs it with BILLFLOW_ROW_SECURITY=1 and the application role in DATABASE_URL:
    unauthenticated work with the named bypass, every request narrowed to its key's workspace."""
    _grant(database_url)
    database = Database(database_url, pool_size=2, row_security=True, unscoped=ALL_WORKSPACES)
    _as_app_role(database)
    app = create_app(settings, database, None)  # type: ignore[arg-type]  # no route used here reaches Temporal
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as client:
        yield client
    await database.dispose()


async def _key(db: Database, workspace_id: int) -> dict[str, str]:
    new = api_keys.NewApiKey(name="rls", role=ApiRole.staff, workspace_id=workspace_id)
    return {"Authorization": f"Bearer {(await api_keys.create_key(db, new)).token}"}


async def test_the_api_under_row_security_serves_each_key_its_own_workspace(
    db: Database, rls_http: httpx.AsyncClient
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    invoice_b, client_b = await make_invoice(db, workspace_id=b.id)
    key_a, key_b = await _key(db, DEFAULT_WORKSPACE_ID), await _key(db, b.id)

    listed = await rls_http.get("/v1/invoices", params={"limit": 200}, headers=key_b)
    assert listed.status_code == 200, listed.text
    assert [i["number"] for i in listed.json()["items"]] == [invoice_b.number]
    assert (await rls_http.get(f"/v1/invoices/{invoice_a.number}", headers=key_b)).status_code == 404
    assert (await rls_http.get(f"/v1/invoices/{invoice_b.number}", headers=key_b)).status_code == 200
    clients = [c["external_id"] for c in (await rls_http.get("/v1/clients", headers=key_b)).json()]
    assert client_b.external_id in clients and client_a.external_id not in clients
    assert (await rls_http.get("/v1/reports/aging", headers=key_b)).status_code == 200
    assert (await rls_http.get(f"/v1/invoices/{invoice_a.number}", headers=key_a)).status_code == 200


async def test_a_booking_under_row_security_is_issued_and_numbered_in_the_keys_workspace(
    db: Database, rls_http: httpx.AsyncClient
) -> None:
    """Intake commits the invoice, then numbers it on an autocommit connection (services/intake.number_now):
    that connection is in the request's workspace too, or its UPDATE would see no invoice to number."""
    b = await make_workspace(db)
    assert b.id is not None
    event = copy.deepcopy(cast(dict[str, Any], EVENT_EXAMPLES["confirmed"]["value"]))
    event["id"] = f"evt-rls-{uuid.uuid4().hex[:8]}"
    event["data"] = {**event["data"], "booking_id": f"bk-rls-{uuid.uuid4().hex[:8]}"}
    answer = await rls_http.post("/v1/events", json=event, headers=await _key(db, b.id))
    assert answer.status_code == 202, answer.text
    number = answer.json()["invoice_number"]
    assert number and not number.startswith("pending")
    async with db.session() as session:
        workspace = (
            await session.execute(text("SELECT workspace_id FROM invoices WHERE number = :n"), {"n": number})
        ).scalar_one()
    assert workspace == b.id


# Tables whose rows belong to no single workspace, so row-level security has nothing to separate in them. Every
# other table must have the policies (a table added later without them fails the catalogue test below).
INSTALLATION_WIDE = {
    "alembic_version",  # the schema's revision
    "workspaces",  # the workspaces themselves: the first workspace's admin creates and lists them
    "reference_rates",  # central-bank rates every workspace's late-payment interest is computed from
    "numbering_series",  # created with their workspace by the first workspace's admin (docs/workspaces.md)
    "numbering_counters",  # each series' last value: reached only through numbering_series
    "staff_tokens",  # those accounts' invitation and reset links
    "login_attempts",  # the staff sign-in's throttle
    "portal_link_requests",  # the portal sign-in's rate limit: hashed addresses and IPs, before a workspace is known
}
POLICIES = {"workspace_rows", "all_workspaces"}

# One row per workspace table, in dependency order. Rows owned by another (an invoice's line, a subscription's
# period) name no workspace: the owner's is theirs (migration 0a1b2c3d4e6b's triggers). Each returns its ctid.
SEEDS = {
    "payments": "INSERT INTO payments (workspace_id, invoice_id, client_id, kind, provider, provider_reference, "
    "amount_minor, currency, method, received_at, created_at) VALUES (:ws, :invoice, :client, 'payment', 'manual', "
    "'p-' || :key, 100, 'EUR', 'transfer', now(), now())",
    "subscriptions": "INSERT INTO subscriptions (id, workspace_id, client_id, currency, interval, timezone, "
    "start_date, issue_hour, payment_terms_seconds, reminder_policy, status, workflow_id, periods_billed, "
    "periods_skipped, created_at, updated_at) VALUES ('sub-' || :key, :ws, :client, 'EUR', '{}', 'UTC', "
    "current_date, 9, 0, '{}', 'active', 'subscription-' || :key, 0, 0, now(), now())",
    "subscription_plans": "INSERT INTO subscription_plans (subscription_id, effective_from, lines, created_at) "
    "VALUES ('sub-' || :key, current_date, '[]', now())",
    "subscription_periods": "INSERT INTO subscription_periods (subscription_id, index, period_start, period_end, "
    "outcome, reason, recorded_at) VALUES ('sub-' || :key, 1, current_date, current_date + 30, 'billed', '', now())",
    "api_keys": "INSERT INTO api_keys (workspace_id, key_id, name, role, secret_hash, created_at) "
    "VALUES (:ws, 'k' || :key, 'rls', 'viewer', 'h' || :key, now())",
    "integrations": "INSERT INTO integrations (workspace_id, name, secret, created_at) "
    "VALUES (:ws, 'int-' || :key, 's', now())",
    "calcom_bookings": "INSERT INTO calcom_bookings (integration, uid, root_uid, created_at) "
    "VALUES ('int-' || :key, 'u', 'u', now())",
    "checkout_sessions": "INSERT INTO checkout_sessions (invoice_id, attempt, stripe_session_id, amount_minor, "
    "currency, status, payment_status, created_at, updated_at) VALUES (:invoice, 1, 'cs_' || :key, 100, 'EUR', "
    "'expired', 'unpaid', now(), now())",
    "client_answers": "INSERT INTO client_answers (invoice_id, answer_id, kind, payload, outcome, created_at) "
    "VALUES (:invoice, 'a' || :key, 'promise', '{}', 'closed', now())",
    "client_settings": "INSERT INTO client_settings (client_id, reminders_paused, auto_pay, updated_at) "
    "VALUES (:client, false, false, now())",
    "credit_notes": "INSERT INTO credit_notes (number, idempotency_key, invoice_id, client_id, kind, reason, "
    "currency, subtotal_minor, tax_minor, total_minor, seller, buyer, issue_date, issued_at, created_at) VALUES "
    "('CN-' || :key, 'cn-' || :key, :invoice, :client, 'partial', 'r', 'EUR', 10, 0, 10, '{}', '{}', current_date, "
    "now(), now())",
    "credit_note_lines": "INSERT INTO credit_note_lines (credit_note_id, position, description, quantity, "
    "unit_price_minor, tax_rate_bp, tax_category, subtotal_minor) VALUES ((SELECT id FROM credit_notes WHERE "
    "idempotency_key = 'cn-' || :key), 1, 'd', 1, 10, 0, 'standard', 10)",
    "email_messages": "INSERT INTO email_messages (idempotency_key, invoice_id, client_id, kind, to_email, subject, "
    "body_text, backend, status, attempts, created_at, updated_at) VALUES ('m-' || :key, :invoice, :client, "
    "'invoice_issued', 'a@example.com', 's', 'b', 'rls-test', 'sent', 1, now(), now())",
    # the intake names a delivery's workspace; an event applied to an invoice follows the invoice's
    "inbox_events": "INSERT INTO inbox_events (workspace_id, source, channel, event_key, type, payload, result, "
    "invoice_id, received_at) VALUES (:ws, 'booking', 'int-' || :key, 'e', 'booking.confirmed', '{}', '{}', NULL, "
    "now()), (1, 'rls-test', '', 'evt_' || :key, 't', '{}', '{}', :invoice, now())",
    "invoice_lines": "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, "
    "tax_rate_bp, subtotal_minor, tax_minor, total_minor) VALUES (:invoice, 1, 'l', 1, 100, 0, 100, 0, 100)",
    "portal_links": "INSERT INTO portal_links (client_id, token_hash, expires_at, created_at, single_use) "
    "VALUES (:client, 'pl' || :key, now() + interval '1 day', now(), false)",
    "rendered_documents": "INSERT INTO rendered_documents (invoice_id, kind, content_hash, filename, content_type, "
    "content, created_at) VALUES (:invoice, 'pdf', 'h' || :key, 'f.pdf', 'application/pdf', '\\x00', now())",
    "report_snapshots": "INSERT INTO report_snapshots (workspace_id, kind, as_of, zone, params, payload, "
    "payments_max_id, credit_notes_max_id, invoices_max_id, email_messages_max_id, computed_at) VALUES (:ws, "
    "'rls', current_date, 'UTC', :key, '{}', 0, 0, 0, 0, now())",
    "run_outbox": "INSERT INTO run_outbox (workspace_id, key, workflow_id, kind, name, payload, created_at, "
    "available_at, attempts, delivered_at) VALUES (:ws, 'o-' || :key, 'wf-' || :key, 'signal', 'rls', '{}', now(), "
    "now(), 1, now())",  # delivered already: no relay of another test picks it up
    "service_catalog": "INSERT INTO service_catalog (workspace_id, event_type, service_name, unit_price_minor, "
    "currency, tax_rate_bp, created_at, updated_at) VALUES (:ws, 'et-' || :key, 's', 100, 'EUR', 0, now(), now())",
    "staff_users": "INSERT INTO staff_users (workspace_id, email, name, role, session_epoch, created_at) "
    "VALUES (:ws, 'rls-' || :key || '@example.com', 'r', 'viewer', 0, now())",
    "timeline_events": "INSERT INTO timeline_events (client_id, invoice_id, kind, message, data, occurred_at) "
    "VALUES (:client, :invoice, 'note', '', '{}', now())",
}


async def _public_tables(db: Database) -> set[str]:
    async with db.session() as session:
        names = await session.execute(
            text("SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
        )
        return set(names.scalars())


async def _seed_every_table(db: Database, workspace_id: int) -> dict[str, set[str]]:
    """A row of the workspace in every workspace table; the ctids of the rows, by table."""
    invoice, client = await make_invoice(db, workspace_id=workspace_id)
    params = {"ws": workspace_id, "invoice": invoice.id, "client": client.id, "key": uuid.uuid4().hex[:12]}
    rows: dict[str, set[str]] = {}
    async with db.session() as session:
        for table, key in (("clients", client.id), ("invoices", invoice.id)):
            found = await session.execute(text(f"SELECT ctid::text FROM {table} WHERE id = :id"), {"id": key})
            rows[table] = set(found.scalars())
        for table, statement in SEEDS.items():
            rows[table] = set((await session.execute(text(f"{statement} RETURNING ctid::text"), params)).scalars())
    return rows


async def test_every_table_has_row_security_unless_installation_wide(db: Database) -> None:
    """From the catalogue: a table added without the policies fails here until it has them or is listed above."""
    async with db.session() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, array_remove(array_agg(p.policyname::text), NULL) "
                    "FROM pg_class c LEFT JOIN pg_policies p ON p.schemaname = 'public' AND p.tablename = c.relname "
                    "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace GROUP BY 1, 2"
                )
            )
        ).all()
    unprotected = {
        name
        for name, secured, policies in rows
        if name not in INSTALLATION_WIDE and not (secured and POLICIES <= set(policies))
    }
    assert unprotected == set()


async def test_an_unfiltered_query_in_one_workspace_sees_no_row_of_another_in_any_table(
    db: Database, app_db: Database
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    of_a = await _seed_every_table(db, DEFAULT_WORKSPACE_ID)
    of_b = await _seed_every_table(db, b.id)
    workspace_tables = await _public_tables(db) - INSTALLATION_WIDE
    assert workspace_tables - set(of_a) == set(), "seed a row of these tables in SEEDS"
    leaks, missing = {}, {}
    async with app_db.session(workspace=b.id) as session:
        for table in sorted(workspace_tables):
            seen = set((await session.execute(text(f"SELECT ctid::text FROM {table}"))).scalars())
            assert of_a[table], table  # the seed wrote a row, so an empty intersection means something
            if seen & of_a[table]:
                leaks[table] = len(seen & of_a[table])
            if not of_b[table] <= seen:  # its own rows: filed under its workspace, owners' or named
                missing[table] = len(of_b[table] - seen)
    assert leaks == {}
    assert missing == {}


async def test_a_child_row_cannot_be_attached_to_another_workspaces_owner(db: Database, app_db: Database) -> None:
    """The owner trigger finds no owner it may not see, so the row keeps the default workspace: refused."""
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, _ = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_db.session(workspace=b.id) as session:
            await session.execute(text(SEEDS["invoice_lines"]), {"invoice": invoice_a.id})


async def test_a_webhook_event_follows_the_invoice_it_is_applied_to(db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_b, _ = await make_invoice(db, workspace_id=b.id)
    key = uuid.uuid4().hex[:12]
    async with db.session() as session:  # stored before its invoice is known: the default workspace
        await session.execute(
            text(
                "INSERT INTO inbox_events (source, channel, event_key, type, payload, result, received_at) "
                "VALUES ('rls-test', '', :key, 't', '{}', '{}', now())"
            ),
            {"key": key},
        )
        owner = text("SELECT workspace_id FROM inbox_events WHERE event_key = :k")
        assert (await session.execute(owner, {"k": key})).scalar_one() == DEFAULT_WORKSPACE_ID
        await session.execute(
            text("UPDATE inbox_events SET invoice_id = :invoice WHERE event_key = :key"),
            {"invoice": invoice_b.id, "key": key},
        )
        assert (await session.execute(owner, {"k": key})).scalar_one() == b.id


async def test_the_staff_app_under_row_security_signs_in_and_shows_the_users_workspace(
    db: Database, database_url: str, settings: Settings
) -> None:
    """Sign-in finds the user with the named bypass; every page after it runs in the user's workspace, even
    with no bypass for unscoped sessions."""
    from billflow.services import users
    from tests.app.support import PASSWORD, browserless, sign_in

    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, _ = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    invoice_b, _ = await make_invoice(db, workspace_id=b.id)
    email = f"rls-{uuid.uuid4().hex[:8]}@example.com"
    await users.create_user(db, users.NewUser(email=email, role=ApiRole.admin, workspace_id=b.id), password=PASSWORD)
    _grant(database_url)
    database = Database(database_url, pool_size=2, row_security=True)
    _as_app_role(database)
    try:
        app = create_app(settings, database, None)  # type: ignore[arg-type]  (no page used here reaches Temporal)
        async with browserless(app) as http:
            assert (await sign_in(http, email)).status_code == 303
            listed = await http.get("/app/invoices")
            assert listed.status_code == 200, listed.text
            assert f'data-number="{invoice_b.number}"' in listed.text and invoice_a.number not in listed.text
            people = await http.get("/app/settings/users")
            assert people.status_code == 200 and email in people.text
    finally:
        await database.dispose()
