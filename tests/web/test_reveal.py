"""The one-time stash behind POST-redirect-GET of new secrets (billflow.web.reveal)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.requests import Request

from billflow.web import reveal


class Shown(BaseModel):
    name: str
    secret: str


def _request(app: FastAPI, session: dict[str, Any]) -> Request:
    return Request({"type": "http", "app": app, "session": session, "headers": []})


def _app(secret: str = "s" * 32) -> FastAPI:
    app = FastAPI()
    reveal.install(app, secret)
    return app


def test_the_stash_is_taken_once_and_only_by_its_page() -> None:
    app, session = _app(), dict[str, Any]()
    reveal.stash(_request(app, session), "api-keys", Shown(name="n8n", secret="tok_1"))
    assert "tok_1" not in str(session)  # the cookie is signed but readable: the secret is sealed
    assert reveal.take(_request(app, session), "integrations", Shown) is None
    assert reveal.take(_request(app, session), "api-keys", Shown) == Shown(name="n8n", secret="tok_1")
    assert reveal.take(_request(app, session), "api-keys", Shown) is None


def test_an_expired_or_foreign_stash_shows_nothing() -> None:
    app, session = _app(), dict[str, Any]()
    stale = app.state.reveal_fernet.encrypt_at_time(
        Shown(name="a", secret="b").model_dump_json().encode(), int(time.time()) - reveal.REVEAL_TTL_SECONDS - 5
    )
    session["reveal"] = {"page": "api-keys", "token": stale.decode()}
    assert reveal.take(_request(app, session), "api-keys", Shown) is None and "reveal" not in session
    reveal.stash(_request(_app("o" * 32), session), "api-keys", Shown(name="a", secret="b"))  # another key
    assert reveal.take(_request(app, session), "api-keys", Shown) is None
