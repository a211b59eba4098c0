"""Show a new secret once after POST-redirect-GET: the POST seals it (Fernet: encrypted and timestamped) into the
session and redirects; the next GET of that page takes it out. A reload finds nothing to show and re-posts
nothing, so it neither rotates again nor creates a second key. The session cookie is signed but readable, hence
the encryption; the TTL bounds how long an unread secret lingers in it."""

from __future__ import annotations

import base64
import hashlib
from typing import TypeVar

from cryptography.fernet import Fernet, InvalidToken
from fastapi import FastAPI, Request
from pydantic import BaseModel, ValidationError

REVEAL_TTL_SECONDS = 120
_SESSION_KEY = "reveal"
M = TypeVar("M", bound=BaseModel)


def install(app: FastAPI, secret: str) -> None:
    # A key of its own, derived from the session secret, so the two never share one use.
    digest = hashlib.sha256(b"billflow reveal v1\x00" + secret.encode()).digest()
    app.state.reveal_fernet = Fernet(base64.urlsafe_b64encode(digest))


def _fernet(request: Request) -> Fernet:
    fernet: Fernet = request.app.state.reveal_fernet
    return fernet


def stash(request: Request, page: str, shown: BaseModel) -> None:
    """Keep `shown` (holding a secret) for the next GET of `page` only."""
    token = _fernet(request).encrypt(shown.model_dump_json().encode()).decode()
    request.session[_SESSION_KEY] = {"page": page, "token": token}


def take(request: Request, page: str, model: type[M]) -> M | None:
    """The value stashed for `page`, once; None when there is none, it expired, or it belongs elsewhere."""
    held = request.session.get(_SESSION_KEY)
    if not isinstance(held, dict) or held.get("page") != page:
        return None
    del request.session[_SESSION_KEY]
    try:
        raw = _fernet(request).decrypt(str(held.get("token", "")).encode(), ttl=REVEAL_TTL_SECONDS)
        return model.model_validate_json(raw)
    except (InvalidToken, ValidationError):
        return None
