"""/v1/workspaces and isolation: a key of one workspace cannot read another's workspace, invoices or clients."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from billflow.db import Database
from billflow.services import api_keys
from models.api_keys import ApiRole
from models.columns import DEFAULT_WORKSPACE_ID
from tests.workspaces.support import make_invoice, make_workspace


async def _headers(db: Database, *, workspace_id: int = DEFAULT_WORKSPACE_ID, role: ApiRole = ApiRole.admin) -> dict:
    created = await api_keys.create_key(db, api_keys.NewApiKey(name="t", role=role, workspace_id=workspace_id))
    return {"Authorization": f"Bearer {created.token}"}


async def test_an_installation_admin_creates_and_updates_a_workspace(http: httpx.AsyncClient, db: Database) -> None:
    admin = await _headers(db)
    body = {"slug": "api-studio-1", "name": "API Studio", "country": "fr", "default_currency": "eur"}
    created = await http.post("/v1/workspaces", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["country"], created.json()["default_currency"]) == ("FR", "EUR")
    again = await http.post("/v1/workspaces", json=body, headers=admin)
    assert again.status_code == 409
    patched = await http.patch("/v1/workspaces/api-studio-1", json={"invoice_footer": "Merci"}, headers=admin)
    assert patched.status_code == 200 and patched.json()["invoice_footer"] == "Merci"
    assert "api-studio-1" in [w["slug"] for w in (await http.get("/v1/workspaces", headers=admin)).json()]


async def test_a_bad_vat_id_is_a_422_naming_the_field(http: httpx.AsyncClient, db: Database) -> None:
    ws = await make_workspace(db)
    answer = await http.patch(f"/v1/workspaces/{ws.slug}", json={"vat_id": "FR123"}, headers=await _headers(db))
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [["body", "vat_id"]]


async def test_clearing_a_required_field_is_a_422_naming_it(http: httpx.AsyncClient, db: Database) -> None:
    ws = await make_workspace(db)
    answer = await http.patch(f"/v1/workspaces/{ws.slug}", json={"locale": None}, headers=await _headers(db))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "locale"]


async def test_a_stripe_account_is_connected_over_the_api_once(http: httpx.AsyncClient, db: Database) -> None:
    ws, other = await make_workspace(db), await make_workspace(db)
    account = f"acct_{ws.slug.replace('-', '')}"
    headers = await _headers(db)
    patched = await http.patch(f"/v1/workspaces/{ws.slug}", json={"stripe_account": account}, headers=headers)
    assert patched.status_code == 200 and patched.json()["stripe_account"] == account
    taken = await http.patch(f"/v1/workspaces/{other.slug}", json={"stripe_account": account}, headers=headers)
    assert taken.status_code == 409 and "stripe_account" in taken.json()["detail"]
    bad = await http.patch(f"/v1/workspaces/{other.slug}", json={"stripe_account": "acct-1"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "stripe_account"]


async def test_a_bad_numbering_pattern_is_a_422_naming_it(http: httpx.AsyncClient, db: Database) -> None:
    ws = await make_workspace(db)
    answer = await http.put(
        f"/v1/workspaces/{ws.slug}/numbering/invoice", json={"pattern": "{prefix}-{seq}"}, headers=await _headers(db)
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "pattern"]


async def test_the_logo_is_stored_and_served(http: httpx.AsyncClient, db: Database) -> None:
    ws = await make_workspace(db)
    admin = await _headers(db)
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
    put = await http.put(f"/v1/workspaces/{ws.slug}/logo", content=png, headers=admin | {"Content-Type": "image/png"})
    assert put.status_code == 200 and put.json()["logo_bytes"] == len(png)
    got = await http.get(f"/v1/workspaces/{ws.slug}/logo", headers=admin)
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, png, "image/png")
    bad = await http.put(f"/v1/workspaces/{ws.slug}/logo", content=b"text", headers=admin)
    assert bad.status_code == 422


async def test_a_workspace_admin_sees_only_its_own_workspace(http: httpx.AsyncClient, db: Database) -> None:
    a, b = await make_workspace(db), await make_workspace(db)
    assert b.id is not None
    b_admin = await _headers(db, workspace_id=b.id)
    assert [w["slug"] for w in (await http.get("/v1/workspaces", headers=b_admin)).json()] == [b.slug]
    assert (await http.get(f"/v1/workspaces/{b.slug}", headers=b_admin)).status_code == 200
    assert (await http.get(f"/v1/workspaces/{a.slug}", headers=b_admin)).status_code == 404
    assert (await http.patch(f"/v1/workspaces/{a.slug}", json={"city": "X"}, headers=b_admin)).status_code == 404
    created = await http.post("/v1/workspaces", json={"slug": "from-b", "name": "B's"}, headers=b_admin)
    assert created.status_code == 403


async def test_a_staff_key_cannot_manage_workspaces(http: httpx.AsyncClient, db: Database) -> None:
    staff = await _headers(db, role=ApiRole.staff)
    assert (await http.get("/v1/workspaces", headers=staff)).status_code == 403


async def test_a_key_of_workspace_b_cannot_read_workspace_as_invoice(http: httpx.AsyncClient, db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    invoice_b, _ = await make_invoice(db, workspace_id=b.id)
    key_a, key_b = await _headers(db, role=ApiRole.staff), await _headers(db, workspace_id=b.id, role=ApiRole.staff)

    assert (await http.get(f"/v1/invoices/{invoice_a.number}", headers=key_a)).status_code == 200
    for path in (
        f"/v1/invoices/{invoice_a.number}",
        f"/v1/invoices/{invoice_a.number}/plan",
        f"/v1/invoices/{invoice_a.number}/document",
        f"/v1/documents/{invoice_a.number}",
        f"/v1/documents/{invoice_a.number}/pdf",
    ):
        answer = await http.get(path, headers=key_b)
        assert answer.status_code == 404, (path, answer.status_code)
        assert invoice_a.number not in answer.text.replace(f"numbered {invoice_a.number}", "")
    acted = await http.post(f"/v1/invoices/{invoice_a.number}/void", json={"reason": "x"}, headers=key_b)
    assert acted.status_code == 404
    assert (await http.get(f"/v1/invoices/{invoice_b.number}", headers=key_b)).status_code == 200

    listed = (await http.get("/v1/invoices", params={"limit": 200}, headers=key_b)).json()
    assert [i["number"] for i in listed["items"]] == [invoice_b.number]
    clients = (await http.get("/v1/clients", params={"limit": 200}, headers=key_b)).json()
    assert client_a.external_id not in [c["external_id"] for c in clients]
    assert (await http.get(f"/v1/clients/{client_a.external_id}", headers=key_b)).status_code == 404
    assert (await http.get(f"/v1/clients/{client_a.external_id}/timeline", headers=key_b)).status_code == 404
    note = await http.post(f"/v1/clients/{client_a.external_id}/notes", json={"text": "hi"}, headers=key_b)
    assert note.status_code == 404


async def test_the_same_client_id_in_two_workspaces_is_two_clients(http: httpx.AsyncClient, db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    _, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID, external_id="shared-7")
    _, client_b = await make_invoice(db, workspace_id=b.id, external_id="shared-7")
    assert client_a.id != client_b.id
    key_b = await _headers(db, workspace_id=b.id, role=ApiRole.viewer)
    shown = await http.get("/v1/clients/shared-7", headers=key_b)
    assert shown.status_code == 200, shown.text
    assert shown.json()["name"] == client_b.name


async def test_reports_catalog_and_subscriptions_are_the_keys_workspaces(http: httpx.AsyncClient, db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    key_a, key_b = await _headers(db), await _headers(db, workspace_id=b.id, role=ApiRole.admin)
    entry = {"event_type": "ws-a-only", "service_name": "A's massage", "unit_price_minor": 9000, "currency": "EUR"}
    assert (await http.post("/v1/catalog", json=entry, headers=key_a)).status_code == 201

    for path in ("/v1/reports/aging", "/v1/reports/dashboard", "/v1/reports/top-overdue", "/v1/reports/dso"):
        answer = await http.get(path, headers=key_b)
        assert answer.status_code == 200, (path, answer.status_code)
        assert invoice_a.number not in answer.text and client_a.name not in answer.text
    assert (await http.get("/v1/reports/aging", headers=key_b)).json()["rows"] == []
    assert (await http.get("/v1/catalog", headers=key_b)).json() == []
    assert (await http.get("/v1/catalog/ws-a-only", headers=key_b)).status_code == 404
    assert (await http.delete("/v1/catalog/ws-a-only", headers=key_b)).status_code == 404
    assert (await http.get("/v1/catalog/ws-a-only", headers=key_a)).status_code == 200
    assert (await http.get("/v1/subscriptions", headers=key_b)).json() == []
    # /v1/events is split by workspace (tests/workspaces/test_workspace_intake.py): a bad body is only a 422.
    posted = await http.post("/v1/events", json={"id": "e", "type": "booking.confirmed", "data": {}}, headers=key_b)
    assert posted.status_code == 422
    assert (await http.get("/v1/credit-notes", headers=key_b)).json() == []


async def test_another_workspaces_subscription_is_not_found(http: httpx.AsyncClient, db: Database) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    _, client_a = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    async with db.session() as session:
        await session.execute(
            text(
                "INSERT INTO subscriptions (id, workspace_id, client_id, currency, interval, timezone, start_date, "
                "issue_hour, payment_terms_seconds, reminder_policy, status, workflow_id, periods_billed, "
                "periods_skipped, created_at, updated_at) VALUES ('sub-ws-a', 1, :client, 'EUR', "
                "'{\"kind\": \"monthly\"}', 'UTC', current_date, 9, 0, '{}', 'active', 'subscription-ws-a', 0, 0, "
                "now(), now())"
            ),
            {"client": client_a.id},
        )
    key_b = await _headers(db, workspace_id=b.id, role=ApiRole.staff)
    assert (await http.get("/v1/subscriptions/sub-ws-a", headers=key_b)).status_code == 404
    assert (await http.post("/v1/subscriptions/sub-ws-a/pause", headers=key_b)).status_code == 404
