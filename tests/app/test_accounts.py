"""Staff accounts: sign-in with argon2 hashes, session cookies, CSRF, throttling, invitations, resets, roles."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlmodel import select

from billflow.config import Settings
from billflow.db import Database
from billflow.services import api_keys, users
from billflow.web.app import create_app
from models.api_keys import ApiRole
from models.users import StaffUser
from tests.app.support import PASSWORD, browserless, csrf_of, last_link, make_user, post_form, sign_in


@pytest.fixture
def web_app(settings: Settings, db: Database) -> FastAPI:
    """The app without Temporal: account pages never talk to it."""
    return create_app(settings, db, None)  # type: ignore[arg-type]


async def test_password_is_stored_as_an_argon2id_hash(db: Database) -> None:
    user = await make_user(db)
    async with db.session() as session:
        row = (await session.exec(select(StaffUser).where(StaffUser.id == user.id))).one()
    assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash


async def test_sign_in_sets_an_httponly_samesite_session_cookie(web_app: FastAPI, db: Database) -> None:
    user = await make_user(db)
    async with browserless(web_app) as client:
        assert (await client.get("/app")).status_code == 303  # not signed in: to the login page
        response = await sign_in(client, user.email)
        assert response.status_code == 303 and response.headers["location"] == "/app"
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("billflow_session="))
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "path=/app" in cookie.lower()
        assert "secure" not in cookie.lower()  # http public URL in tests
        page = await client.get("/app/invoices")
        assert page.status_code == 200 and user.email in page.text


async def test_session_cookie_is_secure_when_the_public_url_is_https(settings: Settings, db: Database) -> None:
    app = create_app(settings.model_copy(update={"public_base_url": "https://billing.example"}), db, None)  # type: ignore[arg-type]
    user = await make_user(db)
    async with browserless(app, "https://billing.example") as client:
        response = await sign_in(client, user.email)
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("billflow_session=") and "secure" in c.lower() for c in cookies)


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(web_app: FastAPI, db: Database) -> None:
    user = await make_user(db)
    async with browserless(web_app) as client:
        wrong = await sign_in(client, user.email, "not the password at all")
        unknown = await sign_in(client, "nobody@example.com", "not the password at all")
        assert wrong.status_code == unknown.status_code == 401
        assert "wrong email address or password" in wrong.text and "wrong email address or password" in unknown.text
        assert (await client.get("/app")).status_code == 303


async def test_an_account_is_locked_for_a_while_after_five_failures(web_app: FastAPI, db: Database) -> None:
    user = await make_user(db)
    for _ in range(users.MAX_FAILURES_PER_ACCOUNT):
        async with browserless(web_app) as attacker:  # a new address each time: the account limit applies
            assert (await sign_in(attacker, user.email, "guess-guess-guess")).status_code == 401
    async with browserless(web_app) as owner:
        locked = await sign_in(owner, user.email)  # even the right password waits
        assert locked.status_code == 429 and "too many failed sign-ins" in locked.text


async def test_an_address_is_throttled_after_twenty_failures(web_app: FastAPI, db: Database) -> None:
    user = await make_user(db)
    async with browserless(web_app) as client:
        for i in range(users.MAX_FAILURES_PER_ADDRESS):
            assert (await sign_in(client, f"spray-{i}-{uuid.uuid4().hex[:6]}@example.com", "x" * 12)).status_code == 401
        assert (await sign_in(client, user.email)).status_code == 429
    async with browserless(web_app) as elsewhere:
        assert (await sign_in(elsewhere, user.email)).status_code == 303


async def test_a_form_posted_without_its_csrf_token_is_refused(web_app: FastAPI, db: Database) -> None:
    user = await make_user(db, ApiRole.admin)
    async with browserless(web_app) as client:
        await sign_in(client, user.email)
        forged = await client.post("/app/settings/api-keys", data={"name": "forged", "role": "admin"})
        assert forged.status_code == 403 and "security token" in forged.text
        login_forged = await client.post("/app/login", data={"email": user.email, "password": PASSWORD})
        assert login_forged.status_code == 403
    async with browserless(web_app) as cookieless:  # login CSRF: refused even before any cookie exists
        assert (
            await cookieless.post("/app/login", data={"email": user.email, "password": PASSWORD})
        ).status_code == 403


async def test_logout_ends_the_session(web_app: FastAPI, db: Database) -> None:
    user = await make_user(db)
    async with browserless(web_app) as client:
        await sign_in(client, user.email)
        out = await post_form(client, "/app/invoices", "/app/logout", {})
        assert out.status_code == 303 and out.headers["location"] == "/app/login"
        assert (await client.get("/app/invoices")).status_code == 303


async def test_an_invitation_link_sets_the_password_once(web_app: FastAPI, db: Database) -> None:
    admin = await make_user(db, ApiRole.admin)
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    async with browserless(web_app) as client:
        await sign_in(client, admin.email)
        sent = await post_form(
            client,
            "/app/settings/users",
            "/app/settings/users/invite",
            {"email": email, "name": "Nia", "role": "staff"},
        )
        assert sent.status_code == 303
        listed = await client.get("/app/settings/users")
        assert email in listed.text and "invited" in listed.text
    link = await last_link(db, to_email=email, kind="staff_invite")
    async with browserless(web_app) as invitee:
        assert (await sign_in(invitee, email, "anything-at-all")).status_code == 401  # no password yet
        form = await invitee.get(link)
        assert form.status_code == 200 and email in form.text
        short = await invitee.post(
            link, data={"password": "short", "password2": "short", "csrftoken": csrf_of(form.text)}
        )
        assert short.status_code == 422 and "at least 12 characters" in short.text
        done = await invitee.post(
            link, data={"password": PASSWORD, "password2": PASSWORD, "csrftoken": csrf_of(form.text)}
        )
        assert done.status_code == 303
        overview = await invitee.get("/app/invoices")
        assert overview.status_code == 200 and "Nia · staff" in overview.text
        again = await invitee.get(link)
        assert again.status_code == 410 and "unknown, used or expired" in again.text


async def test_a_password_reset_by_email_ends_every_other_session(web_app: FastAPI, db: Database) -> None:
    user = await make_user(db)
    async with browserless(web_app) as laptop, browserless(web_app) as stranger:
        await sign_in(laptop, user.email)
        unknown = await post_form(stranger, "/app/forgot", "/app/forgot", {"email": "nobody@example.com"})
        asked = await post_form(stranger, "/app/forgot", "/app/forgot", {"email": user.email})
        assert unknown.status_code == asked.status_code == 200
        assert "If an account exists" in unknown.text and "If an account exists" in asked.text
        link = await last_link(db, to_email=user.email, kind="staff_reset")
        form = await stranger.get(link)
        new_password = "a brand new passphrase"
        reset = await stranger.post(
            link, data={"password": new_password, "password2": new_password, "csrftoken": csrf_of(form.text)}
        )
        assert reset.status_code == 303
        assert (await laptop.get("/app/invoices")).status_code == 303  # the old session ended
    async with browserless(web_app) as client:
        assert (await sign_in(client, user.email)).status_code == 401
        assert (await sign_in(client, user.email, new_password)).status_code == 303


async def test_only_admins_manage_users_and_keys(web_app: FastAPI, db: Database) -> None:
    staff = await make_user(db, ApiRole.staff)
    async with browserless(web_app) as client:
        await sign_in(client, staff.email)
        assert (await client.get("/app/settings/users")).status_code == 403
        assert (await client.get("/app/settings/api-keys")).status_code == 403


async def test_an_api_key_made_in_the_app_works_on_the_api_and_can_be_revoked(web_app: FastAPI, db: Database) -> None:
    admin = await make_user(db, ApiRole.admin)
    async with browserless(web_app) as client:
        await sign_in(client, admin.email)
        created = await post_form(
            client, "/app/settings/api-keys", "/app/settings/api-keys", {"name": "n8n", "role": "viewer"}
        )
        assert created.status_code == 303 and created.headers["location"] == "/app/settings/api-keys"
        created = await client.get("/app/settings/api-keys")
        token = created.text.split('id="new-token" class="token" readonly value="')[1].split('"')[0]
        api = await client.get("/v1/reports/aging", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200
        key_id = token.split("_")[1]
        revoked = await post_form(client, "/app/settings/api-keys", f"/app/settings/api-keys/{key_id}/revoke", {})
        assert revoked.status_code == 303
        assert (await client.get("/v1/reports/aging", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_reloading_the_keys_page_after_creating_a_key_shows_no_token_and_makes_no_key(
    web_app: FastAPI, db: Database
) -> None:
    admin = await make_user(db, ApiRole.admin)
    name = f"zap-{uuid.uuid4().hex[:6]}"
    async with browserless(web_app) as client:
        await sign_in(client, admin.email)
        posted = await post_form(
            client, "/app/settings/api-keys", "/app/settings/api-keys", {"name": name, "role": "staff"}
        )
        shown = await client.get(posted.headers["location"])
        token = shown.text.split('id="new-token" class="token" readonly value="')[1].split('"')[0]
        reload = await client.get("/app/settings/api-keys")
        assert 'id="new-token"' not in reload.text and token not in reload.text
    assert [k.name for k in await api_keys.list_keys(db)].count(name) == 1


async def test_the_last_admin_cannot_be_demoted(web_app: FastAPI, db: Database) -> None:
    async with db.session() as session:
        admins = (
            await session.exec(select(StaffUser).where(StaffUser.role == "admin", StaffUser.workspace_id == 1))
        ).all()
    for row in admins:  # leave exactly one admin in this database
        if row.disabled_at is None:
            assert row.id is not None
            try:
                await users.change_role(db, workspace_id=1, user_id=row.id, disable=True)
            except users.LastAdmin:
                pass
    admin = await make_user(db, ApiRole.admin)
    others = [
        a
        for a in await users.list_users(db, workspace_id=1)
        if a.role is ApiRole.admin and a.active and a.id != admin.id
    ]
    for other in others:
        await users.change_role(db, workspace_id=1, user_id=other.id, disable=True)
    with pytest.raises(users.LastAdmin):
        await users.change_role(db, workspace_id=1, user_id=admin.id, role=ApiRole.staff)


async def test_a_disabled_user_is_signed_out_at_once_and_a_role_change_applies_at_once(
    web_app: FastAPI, db: Database
) -> None:
    user = await make_user(db, ApiRole.staff)
    async with browserless(web_app) as client:
        await sign_in(client, user.email)
        assert "· staff<" in (await client.get("/app/invoices")).text
        await users.change_role(db, workspace_id=1, user_id=user.id, role=ApiRole.viewer)
        page = await client.get("/app/invoices")
        assert page.status_code == 200 and "· viewer<" in page.text and "New invoice" not in page.text
        await users.change_role(db, workspace_id=1, user_id=user.id, disable=True)
        assert (await client.get("/app/invoices")).status_code == 303
    async with browserless(web_app) as again:
        assert (await sign_in(again, user.email)).status_code == 401
