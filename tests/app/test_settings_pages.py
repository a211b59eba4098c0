"""Settings > Business profile and Settings > Integrations, in process (no browser)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import integrations as integrations_repo
from billflow.repositories import workspaces as workspaces_repo
from billflow.services import integrations, workspaces
from models.api_keys import ApiRole
from tests.app.support import browserless, csrf_of, make_user, post_form, sign_in, workspace_profile_kept

PAGE = "/app/settings/profile"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the magic bytes are what the check reads
GOOD = {
    "legal_name": "Studio Nord GmbH",
    "sender_name": "Studio Nord",
    "address_line1": "Hauptstr. 1",
    "postcode": "10115",
    "city": "Berlin",
    "country": "de",
    "vat_id": "DE 136 695 976",
    "iban": "DE89 3704 0044 0532 0130 00",
    "bic": "COBADEFFXXX",
    "reply_to": "billing@studio-nord.example",
    "default_currency": "eur",
    "reporting_timezone": "Europe/Berlin",
    "payment_terms_days": "30",
    "invoice_footer": "Thank you!",
}


@pytest.fixture(autouse=True)
async def _no_profile_left(db: Database) -> AsyncIterator[None]:
    async with workspace_profile_kept(db):
        yield


async def _stored_legal_name(db: Database) -> str | None:
    return (await workspaces.get_workspace(db, 1)).legal_name


@pytest.fixture
def web_app(settings: Settings, db: Database) -> FastAPI:
    return create_app_without_temporal(settings, db)


def create_app_without_temporal(settings: Settings, db: Database) -> FastAPI:
    from billflow.web.app import create_app

    return create_app(settings, db, None)  # type: ignore[arg-type]  (no page here signals a workflow)


async def test_a_bad_vat_id_is_refused_next_to_its_field_and_nothing_is_saved(web_app: FastAPI, db: Database) -> None:
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        bad = await post_form(
            http, PAGE, PAGE, {**GOOD, "legal_name": "Refused GmbH", "vat_id": "DE123", "iban": "DE00 1234"}
        )
        assert bad.status_code == 422
        assert 'data-error-for="vat_id"' in bad.text and 'data-error-for="iban"' in bad.text
        assert 'data-error-for="legal_name"' not in bad.text
        assert 'value="DE123"' in bad.text  # what was typed stays in the form
    assert await _stored_legal_name(db) not in ("Refused GmbH", "Forged Ltd")


async def test_a_saved_profile_is_the_seller_of_new_invoices(
    web_app: FastAPI, db: Database, settings: Settings
) -> None:
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        form = await http.get(PAGE)
        files = {"logo": ("logo.png", PNG, "image/png")}
        saved = await http.post(PAGE, data={"csrftoken": csrf_of(form.text), **GOOD}, files=files)
        assert saved.status_code == 303, saved.text
        page = await http.get(PAGE)
        assert 'value="DE136695976"' in page.text and "Business profile saved" in page.text
        logo = await http.get(f"{PAGE}/logo")
        assert logo.status_code == 200 and logo.headers["content-type"] == "image/png" and logo.content == PNG
    async with db.session() as session:
        workspace = await workspaces_repo.get_workspace(session, workspace_id=1)
    assert workspace is not None
    seller = workspaces.seller_profile(workspace, email=None)
    assert seller.party.legal_name == "Studio Nord GmbH" and seller.party.address.country == "DE"
    assert seller.party.vat_id == "DE136695976" and seller.iban == "DE89370400440532013000"


async def test_a_logo_that_is_not_an_image_is_refused_next_to_its_field(web_app: FastAPI, db: Database) -> None:
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        form = await http.get(PAGE)
        files = {"logo": ("logo.png", b"GIF89a", "image/png")}
        bad = await http.post(PAGE, data={"csrftoken": csrf_of(form.text), **GOOD}, files=files)
        assert bad.status_code == 422 and 'data-error-for="logo"' in bad.text


async def test_staff_below_admin_cannot_open_the_profile(web_app: FastAPI, db: Database) -> None:
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.staff)).email)
        assert (await http.get(PAGE)).status_code == 403


def _signed(name: str, secret: str, body: bytes) -> dict[str, str]:
    return {**integrations.signed_headers(name, secret, body), "Content-Type": "application/json"}


def _rescheduled(event_id: str) -> bytes:
    data = {"booking_id": f"bk-{event_id}", "starts_at": "2026-12-24T10:00:00+00:00"}
    return json.dumps({"id": event_id, "type": "booking.rescheduled", "data": data}).encode()


async def test_after_rotation_the_old_secret_is_refused_and_the_new_one_listed_as_verified(
    app: FastAPI, db: Database
) -> None:
    name = f"int-{uuid.uuid4().hex[:6]}"
    created = await integrations.create_integration(db, integrations.NewIntegration(name=name))
    page = f"/app/settings/integrations/{name}"
    async with browserless(app) as http:
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        posted = await post_form(http, page, f"{page}/rotate", {})
        assert posted.status_code == 303 and posted.headers["location"] == page  # POST-redirect-GET
        rotated = await http.get(page)
        assert rotated.status_code == 200 and 'data-testid="rotated-secret"' in rotated.text
        new_secret = rotated.text.split('id="new-secret" class="token" readonly value="')[1].split('"')[0]
        assert new_secret != created.secret and new_secret not in (await http.get(page)).text  # shown once
        body = _rescheduled("evt-old")
        old = await http.post("/v1/events", content=body, headers=_signed(name, created.secret, body))
        assert old.status_code == 401 and "signature does not match" in old.text
        body = _rescheduled("evt-new")
        new = await http.post("/v1/events", content=body, headers=_signed(name, new_secret, body))
        assert new.status_code == 202 and new.json()["outcome"] == "no_invoice"
        listed = await http.get(page)
    assert 'data-event-id="evt-new"' in listed.text and 'data-event-id="evt-old"' not in listed.text
    row = listed.text.split('data-event-id="evt-new"')[1].split("</tr>")[0]
    assert "<td>signature</td>" in row and "no invoice" in row


async def test_deliveries_are_paged_newest_first(app: FastAPI, db: Database) -> None:
    name = f"int-{uuid.uuid4().hex[:6]}"
    created = await integrations.create_integration(db, integrations.NewIntegration(name=name))
    async with browserless(app) as http:
        for n in range(27):
            body = _rescheduled(f"evt-{n:02d}")
            answer = await http.post("/v1/events", content=body, headers=_signed(name, created.secret, body))
            assert answer.status_code == 202
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        first = await http.get(f"/app/settings/integrations/{name}")
        assert first.text.index('data-event-id="evt-26"') < first.text.index('data-event-id="evt-02"')
        assert 'data-event-id="evt-01"' not in first.text and 'rel="next"' in first.text
        older = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
        second = await http.get(older)
        assert 'data-event-id="evt-01"' in second.text and 'data-event-id="evt-00"' in second.text
        assert 'data-event-id="evt-02"' not in second.text and 'rel="next"' not in second.text


async def test_the_profile_form_posted_without_its_csrf_token_is_refused(web_app: FastAPI, db: Database) -> None:
    async with browserless(web_app) as http:
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        await http.get(PAGE)  # the CSRF cookie is set
        files = {"logo": ("logo.png", PNG, "image/png")}
        hostile = {**GOOD, "legal_name": "Forged Ltd"}
        missing = await http.post(PAGE, data=hostile, files=files)
        forged = await http.post(PAGE, data={**hostile, "csrftoken": "forged"}, files=files)
        assert missing.status_code == 403 and forged.status_code == 403
    assert await _stored_legal_name(db) not in ("Refused GmbH", "Forged Ltd")


async def test_reloading_after_a_rotation_neither_rotates_again_nor_shows_the_secret(
    app: FastAPI, db: Database
) -> None:
    name = f"int-{uuid.uuid4().hex[:6]}"
    await integrations.create_integration(db, integrations.NewIntegration(name=name))
    page = f"/app/settings/integrations/{name}"
    async with browserless(app) as http:
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        posted = await post_form(http, page, f"{page}/rotate", {})
        shown = await http.get(posted.headers["location"])
        secret = shown.text.split('id="new-secret" class="token" readonly value="')[1].split('"')[0]
        async with db.session() as session:
            after_rotation = await integrations_repo.get_integration(session, name=name)
        reload = await http.get(page)  # what the browser's reload sends after the redirect
        assert reload.status_code == 200 and 'id="new-secret"' not in reload.text and secret not in reload.text
        async with db.session() as session:
            after_reload = await integrations_repo.get_integration(session, name=name)
    assert after_rotation is not None and after_reload is not None
    assert (after_reload.secret, after_reload.secret_rotated_at) == (secret, after_rotation.secret_rotated_at)


async def test_a_new_integration_secret_is_shown_once_after_the_redirect(app: FastAPI, db: Database) -> None:
    name = f"int-{uuid.uuid4().hex[:6]}"
    listing = "/app/settings/integrations"
    async with browserless(app) as http:
        await sign_in(http, (await make_user(db, ApiRole.admin)).email)
        posted = await post_form(http, listing, listing, {"name": name})
        assert posted.status_code == 303 and posted.headers["location"] == listing
        shown = await http.get(listing)
        assert 'id="new-secret"' in shown.text
        assert 'id="new-secret"' not in (await http.get(listing)).text
    assert [i.name for i in await integrations.list_integrations(db)].count(name) == 1
