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
from billflow.web.api.events import EVENT_EXAMPLES
from billflow.web.app import create_app
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
    app = create_app(settings, database, None)  # type: ignore[arg-type]  (no route used here reaches Temporal)
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
