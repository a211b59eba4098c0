"""Clients, reports and policy pages in process (no browser): what they show and what they refuse."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI

from billflow.config import Settings
from billflow.db import Database
from billflow.web.app import create_app
from models.api_keys import ApiRole
from models.clients import Client
from tests.app.support import PASSWORD, browserless, make_user, post_form, sign_in


@pytest.fixture
def web_app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db, None)  # type: ignore[arg-type]  (these pages never signal a workflow)


async def _client(db: Database) -> Client:
    suffix = uuid.uuid4().hex[:8]
    async with db.session() as session:
        row = Client(external_id=f"pg-{suffix}", name=f"Page Client {suffix}", email=f"pg-{suffix}@example.com")
        session.add(row)
    return row


async def test_a_note_lands_on_the_client_timeline_and_an_empty_one_is_refused(web_app: FastAPI, db: Database) -> None:
    client = await _client(db)
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.staff)).email)
        listed = await http.get("/app/clients", params={"q": client.name})
        assert listed.status_code == 200 and f'data-client="{client.external_id}"' in listed.text
        page = f"/app/clients/{client.external_id}"
        empty = await post_form(http, page, f"{page}/notes", {"text": "   "})
        assert empty.status_code == 422 and 'data-error-for="text"' in empty.text
        added = await post_form(http, page, f"{page}/notes", {"text": "Called: pays Friday"})
        assert added.status_code == 303
        detail = await http.get(page)
        assert "Called: pays Friday" in detail.text and "Note added to the timeline." in detail.text


async def test_pausing_a_client_is_saved_on_its_settings(web_app: FastAPI, db: Database) -> None:
    client = await _client(db)
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.staff)).email)
        page = f"/app/clients/{client.external_id}"
        saved = await post_form(http, page, f"{page}/settings", {"reminders_paused": "yes"})
        assert saved.status_code == 303
        assert "Reminders: <strong>paused</strong>" in (await http.get(page)).text


async def test_a_viewer_cannot_add_notes(web_app: FastAPI, db: Database) -> None:
    client = await _client(db)
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.viewer)).email)
        page = f"/app/clients/{client.external_id}"
        assert (await post_form(http, page, f"{page}/notes", {"text": "hi"})).status_code == 403


@pytest.mark.parametrize("kind", ["aging", "cash", "dso", "top-overdue", "effectiveness"])
async def test_each_report_renders_and_downloads_as_csv(web_app: FastAPI, db: Database, kind: str) -> None:
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.viewer)).email)
        page = await http.get("/app/reports", params={"kind": kind})
        assert page.status_code == 200 and 'id="report-table"' in page.text
        csv = await http.get(f"/app/reports/{kind}.csv")
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert "," in csv.text.splitlines()[0]  # the header line


async def test_a_bad_report_date_is_named(web_app: FastAPI, db: Database) -> None:
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.viewer)).email)
        page = await http.get("/app/reports", params={"kind": "aging", "as_of": "31/12/2026"})
        assert page.status_code == 422 and 'data-error-for="as_of"' in page.text
        assert (await http.get("/app/reports/aging.csv", params={"as_of": "0001-01-01"})).status_code == 422


async def test_the_policy_preview_plans_each_step_at_the_local_hour(web_app: FastAPI, db: Database) -> None:
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.viewer)).email)
        page = await http.get(
            "/app/settings",
            params={"days": "-2, 0, 10", "send_hour": "10", "timezone": "Asia/Tokyo", "terms_days": "30"},
        )
        assert page.status_code == 200
        assert page.text.count("10:00 Asia/Tokyo") == 3
        bad = await http.get("/app/settings", params={"timezone": "Mars/Olympus"})
        assert bad.status_code == 422 and 'data-error-for="timezone"' in bad.text


async def test_plotly_js_is_served_from_the_installed_wheel(web_app: FastAPI) -> None:
    async with browserless(web_app) as http:
        response = await http.get("/app/static/vendor/plotly.min.js")
        assert response.status_code == 200 and "plotly" in response.text[:2000].lower()
        assert (await http.get("/app/static/app.css")).status_code == 200
        assert (await http.get("/app/static/..%2Fsecret.css")).status_code == 404


async def test_the_invoice_list_pages_by_keyset_without_gaps_or_repeats(web_app: FastAPI, db: Database) -> None:
    from datetime import UTC, datetime, timedelta

    from models.invoices import Invoice

    client = await _client(db)
    tag = uuid.uuid4().hex[:6].upper()
    today = datetime.now(UTC).date()
    async with db.session() as session:
        for i in range(60):
            due = today + timedelta(days=i % 7)  # many equal due dates: the id breaks the ties
            session.add(
                Invoice(
                    number=f"PG{tag}-{i:03d}", source_key=f"test:pg:{tag}:{i}", workflow_id=f"invoice-pg-{tag}-{i}",
                    client_id=client.id, currency="EUR", subtotal_minor=1000 + i, total_minor=1000 + i, status="open",
                    issue_date=today, due_date=due, due_at=datetime.combine(due, datetime.min.time(), tzinfo=UTC),
                    timezone="UTC", public_token=uuid.uuid4().hex,
                )
            )  # fmt: skip
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.viewer)).email)
        seen: list[str] = []
        url = f"/app/invoices?q={client.name.replace(' ', '+')}&sort=due"
        for _ in range(5):
            page = await http.get(url)
            assert page.status_code == 200
            seen += [n for n in page.text.split('data-number="')[1:] for n in [n.split('"')[0]]]
            if 'rel="next"' not in page.text:
                break
            url = page.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
        assert "60 invoices" in page.text or len(seen) == 60
        assert len(seen) == 60 and len(set(seen)) == 60
        exact = await http.get("/app/invoices", params={"q": f"pg{tag}-007"})  # an exact number, any case
        assert exact.text.count('data-number="') == 1 and f"PG{tag}-007" in exact.text
        stale = await http.get("/app/invoices", params={"q": client.name, "sort": "due", "cursor": "garbage"})
        assert stale.status_code == 422 and "stale" in stale.text


async def test_admins_price_the_catalog_and_create_an_integration(web_app: FastAPI, db: Database) -> None:
    slug = f"svc-{uuid.uuid4().hex[:6]}"
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        page = "/app/settings/catalog"
        bad = await post_form(
            http, page, page, {"event_type": slug, "service_name": "Yoga", "price": "ten", "currency": "EUR"}
        )
        assert bad.status_code == 422 and 'data-error-for="price"' in bad.text
        added = await post_form(
            http,
            page,
            page,
            {"event_type": slug, "service_name": "Yoga", "price": "45.50", "currency": "eur", "tax": "7.7"},
        )
        assert added.status_code == 303
        listed = await http.get(page)
        assert f'data-event-type="{slug}"' in listed.text and "€45.50" in listed.text and "7.7 %" in listed.text
        name = f"cal-{uuid.uuid4().hex[:6]}"
        created = await post_form(http, page, "/app/settings/integrations", {"name": name})
        assert created.status_code == 303
        assert 'id="new-secret"' in (await http.get(created.headers["location"])).text
        again = await post_form(http, page, "/app/settings/integrations", {"name": name})
        assert again.status_code == 409


async def test_hostile_form_input_is_answered_without_a_server_error(web_app: FastAPI, db: Database) -> None:
    admin = await make_user(db, ApiRole.admin)
    async with browserless(web_app) as http:
        nul = await post_form(http, "/app/login", "/app/login", {"email": "a\x00@b.c", "password": "x\x00" * 10})
        assert nul.status_code == 401
        odd_next = await post_form(
            http, "/app/login", "/app/login", {"email": admin.email, "password": PASSWORD, "next": "/app\x00\r\nX: y"}
        )
        assert odd_next.status_code == 303 and odd_next.headers["location"] == "/app"
        offsite = await post_form(http, "/app/forgot", "/app/forgot", {"email": "x\x00@example.com"})
        assert offsite.status_code == 200
        key = await post_form(
            http, "/app/settings/api-keys", "/app/settings/api-keys", {"name": "n\x00ame", "role": "x"}
        )
        assert key.status_code == 422 and 'data-error-for="role"' in key.text
        invite = await post_form(
            http, "/app/settings/users", "/app/settings/users/invite", {"email": "not an address", "role": "staff"}
        )
        assert invite.status_code == 422 and 'data-error-for="email"' in invite.text
        huge = await post_form(http, "/app/invoices/new", "/app/invoices/new", {
            "currency": "EUR", "client_name": "X", "client_email": "x@example.com", "terms_days": "14",
            "line1_description": "A", "line1_price": "1e999999",
        })  # fmt: skip
        assert huge.status_code == 422 and 'data-error-for="line1_price"' in huge.text
        zone = await post_form(http, "/app/invoices/new", "/app/invoices/new", {
            "currency": "EUR", "client_name": "X", "client_email": "x@example.com", "client_timezone": "Mars/Base",
            "terms_days": "14", "line1_description": "A", "line1_price": "10",
        })  # fmt: skip
        assert zone.status_code == 422 and 'data-error-for="client_timezone"' in zone.text
        assert (await http.get("/app/invoices", params={"due_from": "2026-13-45", "sort": "x"})).status_code == 422
        assert 400 <= (await http.get("/app/invoices/%00")).status_code < 500


async def test_a_contact_edit_is_saved_and_recorded_on_the_timeline(web_app: FastAPI, db: Database) -> None:
    client = await _client(db)
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.staff)).email)
        page = f"/app/clients/{client.external_id}"
        bad = await post_form(
            http, page, f"{page}/contact", {"name": client.name, "email": client.email, "timezone": "Nowhere/City"}
        )
        assert bad.status_code == 422 and 'data-error-for="contact.timezone"' in bad.text
        new_email = f"new-{uuid.uuid4().hex[:6]}@example.com"
        saved = await post_form(
            http, page, f"{page}/contact", {"name": client.name, "email": new_email, "timezone": "Europe/Paris"}
        )
        assert saved.status_code == 303
        detail = await http.get(page)
        assert f"email {client.email} → {new_email}" in detail.text and "timezone UTC → Europe/Paris" in detail.text
        assert 'data-kind="client.contact_changed"' in detail.text


async def test_the_new_invoice_form_starts_from_the_workspaces_currency_and_terms(
    web_app: FastAPI, db: Database
) -> None:
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate
    from tests.app.support import workspace_profile_kept

    async with workspace_profile_kept(db), browserless(web_app) as http:
        await workspaces.update_workspace(db, 1, WorkspaceUpdate(default_currency="CHF", payment_terms_days=45))
        await sign_in(http, (await make_user(db, ApiRole.staff)).email)
        page = await http.get("/app/invoices/new")
    assert page.status_code == 200
    assert 'name="currency" type="text" value="CHF"' in page.text
    assert 'name="terms_days" type="number" value="45"' in page.text
    assert "the workspace&#39;s default, CHF" in page.text or "the workspace's default, CHF" in page.text
