"""The staff app per workspace (issue 13, 15.1): a user signs in to their own workspace and sees and acts on
nothing of another's; an invitation lands in the inviter's workspace; `billflow user create --workspace`."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from billflow.config import Settings
from billflow.db import Database
from billflow.services import api_keys, users, workspaces
from billflow.web.app import create_app
from models.api_keys import ApiRole
from models.columns import DEFAULT_WORKSPACE_ID
from tests.app.support import PASSWORD, browserless, csrf_of, last_link, post_form, sign_in
from tests.app.test_user_cli import cli_env, invoke  # noqa: F401  (fixture)
from tests.workspaces.support import make_invoice, make_workspace


@pytest.fixture
def web_app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db, None)  # type: ignore[arg-type]  (no route used here reaches Temporal)


async def _member(db: Database, workspace_id: int, role: ApiRole = ApiRole.admin) -> users.UserOut:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    return await users.create_user(
        db, users.NewUser(email=email, role=role, workspace_id=workspace_id), password=PASSWORD
    )


async def _status(db: Database, number: str) -> str:
    async with db.session() as session:
        return str(
            (await session.execute(text("SELECT status FROM invoices WHERE number = :n"), {"n": number})).scalar()
        )


async def test_a_workspace_admin_sees_only_the_workspaces_invoices_and_clients(web_app: FastAPI, db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    invoice_b, client_b = await make_invoice(db, workspace_id=b.id)
    admin = await _member(db, b.id)
    async with browserless(web_app) as http:
        assert (await sign_in(http, admin.email)).status_code == 303
        listed = await http.get("/app/invoices")
        assert listed.status_code == 200, listed.text
        assert f'data-number="{invoice_b.number}"' in listed.text and invoice_a.number not in listed.text
        assert b.name in listed.text  # the header names the user's business
        searched = await http.get("/app/invoices", params={"q": invoice_a.number})
        assert f'data-number="{invoice_a.number}"' not in searched.text
        clients = await http.get("/app/clients")
        assert client_b.external_id in clients.text and client_a.external_id not in clients.text
        assert (await http.get(f"/app/invoices/{invoice_a.number}")).status_code == 404
        assert (await http.get(f"/app/clients/{client_a.external_id}")).status_code == 404
        void = await post_form(
            http,
            "/app/invoices",
            f"/app/invoices/{invoice_a.number}/act/void",
            {"confirm": "yes", "reason": "not ours"},
        )
        assert void.status_code == 404
        note = await post_form(
            http, "/app/clients", f"/app/clients/{client_a.external_id}/notes", {"text": "from another business"}
        )
        assert note.status_code == 404
    assert await _status(db, invoice_a.number) == "paid"


async def test_the_first_workspaces_user_does_not_see_another_workspace(web_app: FastAPI, db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_b, _ = await make_invoice(db, workspace_id=b.id)
    staff = await _member(db, DEFAULT_WORKSPACE_ID, ApiRole.staff)
    async with browserless(web_app) as http:
        await sign_in(http, staff.email)
        assert (await http.get(f"/app/invoices/{invoice_b.number}")).status_code == 404
        searched = await http.get("/app/invoices", params={"q": invoice_b.number})
        assert searched.status_code == 200 and f'data-number="{invoice_b.number}"' not in searched.text


async def test_an_invitation_lands_in_the_inviters_workspace(web_app: FastAPI, db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    admin = await _member(db, b.id)
    first_admin = await _member(db, DEFAULT_WORKSPACE_ID)
    email = f"inv-{uuid.uuid4().hex[:8]}@example.com"
    async with browserless(web_app) as http:
        await sign_in(http, admin.email)
        people = await http.get("/app/settings/users")
        assert admin.email in people.text and first_admin.email not in people.text
        sent = await post_form(
            http, "/app/settings/users", "/app/settings/users/invite", {"email": email, "name": "Ola", "role": "staff"}
        )
        assert sent.status_code == 303
        # An address of another workspace's account is refused, and that account stays where it is.
        taken = await post_form(
            http,
            "/app/settings/users",
            "/app/settings/users/invite",
            {"email": first_admin.email, "name": "", "role": "viewer"},
        )
        assert taken.status_code == 409
        # A user of another workspace cannot be changed from here.
        demote = await post_form(
            http, "/app/settings/users", f"/app/settings/users/{first_admin.id}/role", {"role": "viewer"}
        )
        assert demote.status_code == 303
        key = await post_form(
            http, "/app/settings/api-keys", "/app/settings/api-keys", {"name": "b-key", "role": "staff"}
        )
        assert key.status_code == 303
    first = await users.get_user(db, user_id=first_admin.id)
    assert first is not None and first.workspace_id == DEFAULT_WORKSPACE_ID and first.role is ApiRole.admin
    assert [k.workspace_id for k in await api_keys.list_keys(db) if k.name == "b-key"] == [b.id]
    invited = [u for u in await users.list_users(db) if u.email == email]
    assert [u.workspace_id for u in invited] == [b.id]
    link = await last_link(db, to_email=email, kind="staff_invite")
    async with browserless(web_app) as invitee:
        form = await invitee.get(link)
        done = await invitee.post(
            link, data={"password": PASSWORD, "password2": PASSWORD, "csrftoken": csrf_of(form.text)}
        )
        assert done.status_code == 303
        page = await invitee.get("/app/invoices")
        assert page.status_code == 200 and b.name in page.text and "Ola · staff" in page.text


async def test_the_profile_page_edits_the_users_workspace(web_app: FastAPI, db: Database) -> None:
    legal = f"Legal {uuid.uuid4().hex[:8]} GmbH"
    b = await make_workspace(db, legal_name=legal)
    assert b.id is not None
    admin = await _member(db, b.id)
    first = await workspaces.get_workspace(db, DEFAULT_WORKSPACE_ID)
    async with browserless(web_app) as http:
        await sign_in(http, admin.email)
        page = await http.get("/app/settings/profile")
        assert page.status_code == 200 and legal in page.text and first.name not in page.text


async def test_user_create_takes_a_workspace_and_refuses_an_unknown_one(cli_env: None, db: Database) -> None:  # noqa: F811
    b = await make_workspace(db)
    email = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    code, out = await invoke("user", "create", email, "--workspace", b.slug, "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, out
    signed = await users.sign_in(db, email=email, password=PASSWORD, address="cli-ws-test")
    assert signed.workspace_id == b.id
    code, out = await invoke(
        "user", "create", f"x-{email}", "--workspace", "no-such-ws", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 1 and "--workspace" in out and "no-such-ws" in out
    assert not [u for u in await users.list_users(db) if u.email == f"x-{email}"]
    code, out = await invoke("user", "create", f"d-{email}", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, out
    default = [u for u in await users.list_users(db) if u.email == f"d-{email}"]
    assert [u.workspace_id for u in default] == [DEFAULT_WORKSPACE_ID]


async def test_reports_read_today_in_the_users_workspaces_reporting_time_zone(web_app: FastAPI, db: Database) -> None:
    from models.workspaces import WorkspaceUpdate

    b = await make_workspace(db)
    assert b.id is not None
    await workspaces.update_workspace(db, b.id, WorkspaceUpdate(reporting_timezone="Pacific/Kiritimati"))
    viewer = await _member(db, b.id, ApiRole.viewer)
    async with browserless(web_app) as http:
        assert (await sign_in(http, viewer.email)).status_code == 303
        page = await http.get("/app/reports", params={"kind": "aging"})
        overview = await http.get("/app")
    assert page.status_code == 200 and "end of this day (Pacific/Kiritimati)" in page.text
    assert overview.status_code == 200
