"""Helpers for the staff app tests: users, sign-in, the CSRF token of a page, the outbox's links."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlmodel import col, select

from billflow.db import Database
from billflow.services import users
from models.api_keys import ApiRole
from models.email_messages import EmailMessage

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def make_user(db: Database, role: ApiRole = ApiRole.staff, *, password: str = PASSWORD) -> users.UserOut:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    return await users.create_user(db, users.NewUser(email=email, role=role), password=password)


@asynccontextmanager
async def browserless(app: FastAPI, base_url: str = "http://billflow.test") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with its own cookie jar and its own client address (throttling counts per address)."""
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/app/login")
    return await client.post(
        "/app/login", data={"email": email, "password": password, "csrftoken": csrf_of(page.text), "next": "/app"}
    )


async def post_form(client: httpx.AsyncClient, page_url: str, url: str, data: dict[str, str]) -> httpx.Response:
    """Post a form the way a browser does: with the CSRF token of the page that holds it."""
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(url, data={**data, "csrftoken": csrf_of(page.text)})


async def last_link(db: Database, *, to_email: str, kind: str) -> str:
    """The one-time link in the newest account email to an address (outbox backend)."""
    async with db.session() as session:
        query = (
            select(EmailMessage)
            .where(EmailMessage.to_email == to_email, EmailMessage.kind == kind)
            .order_by(col(EmailMessage.id).desc())
        )
        message = (await session.exec(query)).first()
    assert message is not None, f"no {kind} email to {to_email}"
    match = re.search(r"http://billflow\.test(/app/\S+)", message.body_text)
    assert match, message.body_text
    return match.group(1)


@asynccontextmanager
async def workspace_profile_kept(db: Database, workspace_id: int = 1) -> AsyncIterator[None]:
    """Workspace 1's profile is the seller of every later invoice: put it back for other tests in the database."""
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate

    before = await workspaces.get_workspace(db, workspace_id)
    logo = await workspaces.workspace_logo(db, workspace_id)
    try:
        yield
    finally:
        restore = WorkspaceUpdate.model_validate(before.model_dump(include=set(WorkspaceUpdate.model_fields)))
        await workspaces.update_workspace(
            db, workspace_id, restore, logo=logo[0] if logo else None, clear_logo=logo is None
        )
