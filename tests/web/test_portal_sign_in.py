"""Portal self-service: a client asks for a link on the sign-in page and gets a single-use link by email. The
answer is the same for a stranger's address; requests are limited per address and per client IP; the link
works once (a GET only shows its button, so mail scanners do not use it up), then expires."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import portal as portal_repo
from billflow.services import portal, portal_requests
from billflow.services.invoice_runs import start_invoice
from billflow.web.app import create_app
from models.columns import utcnow
from models.email_messages import EmailMessage
from models.invoices import Invoice
from models.workflow_io import ClientIn
from tests.factories import make_booking, make_client
from tests.web.conftest import load_invoice
from tests.workflows.support import until

LINK = re.compile(r"http://billflow\.test/p/([A-Za-z0-9_-]+)")


@asynccontextmanager
async def from_ip(
    settings: Settings, db: Database, env: WorkflowEnvironment, ip: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The web app as seen from one client IP (a fresh one by default, so tests do not share a budget)."""
    ip = ip or f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    transport = httpx.ASGITransport(app=create_app(settings, db, env.client), client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://billflow.test") as http:
        yield http


async def _issued_for(env: WorkflowEnvironment, worker: Worker, db: Database, client: ClientIn) -> Invoice:
    handle = await start_invoice(env.client, make_booking(client=client), task_queue=worker.task_queue)
    state = await until(handle, lambda s: s.issued_email_sent)
    return await load_invoice(db, state.invoice_id)


async def _portal_emails(db: Database, to_email: str) -> list[EmailMessage]:
    async with db.session() as session:
        query = select(EmailMessage).where(EmailMessage.kind == "portal_link", EmailMessage.to_email == to_email)
        return list((await session.exec(query.order_by(col(EmailMessage.id)))).all())


async def test_a_known_address_gets_a_link_that_works_once(
    time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    client = make_client()
    invoice = await _issued_for(time_env, worker, db, client)
    async with from_ip(settings, db, time_env) as http:
        assert 'href="/p"' in (await http.get(f"/i/{invoice.public_token}")).text  # the invoice page links here
        page = await http.get("/p")
        assert page.status_code == 200 and 'action="/p"' in page.text
        answer = await http.post("/p", data={"email": f"  {client.email.upper()} "})  # case and spaces ignored
        assert answer.status_code == 200 and "a link to your invoices is on its way" in answer.text

        [message] = await _portal_emails(db, client.email)
        match = LINK.search(message.body_text)
        assert match and "works once" in message.body_text
        emailed = f"/p/{match.group(1)}"

        for _ in range(2):  # opening the link shows a button and uses nothing (mail scanners fetch links)
            shown = await http.get(emailed)
            assert shown.status_code == 200 and 'data-testid="portal-open"' in shown.text
            assert invoice.number not in shown.text
        opened = await http.post(emailed)
        assert opened.status_code == 303
        browse = opened.headers["location"]
        assert browse.startswith("/p/") and browse != emailed
        portal_page = await http.get(browse)
        assert portal_page.status_code == 200 and invoice.number in portal_page.text

        assert (await http.post(emailed)).status_code == 404  # used: a second open gets nothing
        assert (await http.get(emailed)).status_code == 404
        assert (await http.get(f"{emailed}/statement.pdf")).status_code == 404  # never a portal page itself


async def test_a_strangers_address_gets_the_same_answer_and_no_email(
    time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    client = make_client()
    await _issued_for(time_env, worker, db, client)
    stranger = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    async with from_ip(settings, db, time_env) as http:
        known = await http.post("/p", data={"email": client.email})
        unknown = await http.post("/p", data={"email": stranger})
    assert (known.status_code, known.text) == (unknown.status_code, unknown.text)
    assert len(await _portal_emails(db, client.email)) == 1
    assert await _portal_emails(db, stranger) == []


async def test_requests_are_limited_per_address_whether_known_or_not(
    time_env: WorkflowEnvironment, db: Database, settings: Settings
) -> None:
    stranger = f"probe-{uuid.uuid4().hex[:8]}@example.com"
    for _ in range(portal_requests.MAX_PER_EMAIL):
        async with from_ip(settings, db, time_env) as http:  # from a new IP each time
            assert (await http.post("/p", data={"email": stranger})).status_code == 200
    async with from_ip(settings, db, time_env) as http:
        refused = await http.post("/p", data={"email": stranger})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        other = await http.post("/p", data={"email": f"other-{uuid.uuid4().hex[:8]}@example.com"})
        assert other.status_code == 200  # another address is not affected


async def test_requests_are_limited_per_client_ip(
    time_env: WorkflowEnvironment, db: Database, settings: Settings
) -> None:
    async with from_ip(settings, db, time_env) as http:
        for i in range(portal_requests.MAX_PER_ADDRESS):
            answer = await http.post("/p", data={"email": f"bulk-{i}-{uuid.uuid4().hex[:6]}@example.com"})
            assert answer.status_code == 200
        refused = await http.post("/p", data={"email": f"bulk-x-{uuid.uuid4().hex[:6]}@example.com"})
        assert refused.status_code == 429
    async with from_ip(settings, db, time_env) as http:  # another IP has its own budget
        assert (await http.post("/p", data={"email": f"bulk-y-{uuid.uuid4().hex[:6]}@example.com"})).status_code == 200


async def test_a_malformed_address_is_a_400_naming_the_field(
    time_env: WorkflowEnvironment, db: Database, settings: Settings
) -> None:
    async with from_ip(settings, db, time_env) as http:
        for bad in ("", "not-an-address", "a@b@c", "x" * 330 + "@example.com", "nul\x00@example.com"):
            answer = await http.post("/p", data={"email": bad})
            assert answer.status_code == 400, bad
            assert "email:" in answer.text


async def test_an_expired_sign_in_link_opens_nothing(
    time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    client = make_client()
    await _issued_for(time_env, worker, db, client)
    [pending] = await portal_requests.request_link(db, email=client.email, address="192.0.2.7")
    async with db.session() as session:
        link = await portal_repo.get_link(session, link_id=pending.link.id, for_update=True)
        assert link is not None
        link.expires_at = utcnow() - timedelta(seconds=1)
        session.add(link)
    async with from_ip(settings, db, time_env) as http:
        assert (await http.get(f"/p/{pending.token}")).status_code == 404
        assert (await http.post(f"/p/{pending.token}")).status_code == 404


async def test_revoking_the_emailed_link_ends_the_visit_it_opened(
    time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    client = make_client()
    await _issued_for(time_env, worker, db, client)
    [pending] = await portal_requests.request_link(db, email=client.email, address="192.0.2.8")
    browse = await portal.open_sign_in_link(db, token=pending.token)
    assert browse is not None
    assert await portal.open_sign_in_link(db, token=pending.token) is None  # once
    assert await portal.open_portal(db, token=browse) is not None
    assert pending.link.id is not None and await portal.revoke_link(db, link_id=pending.link.id)
    assert await portal.open_portal(db, token=browse) is None
