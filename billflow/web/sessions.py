"""Staff app sign-in state: a signed session cookie (Starlette's SessionMiddleware, itsdangerous) and CSRF
protection of every form (asgi-csrf, double-submit cookie), both scoped to /app.

The cookie holds the user id and the user's session epoch; every request re-reads the user, so a role change
applies at once and a password reset or a disabled account ends every session (the epoch moves on). The rest of
a signed-in request runs in the user's workspace (issue 13): pages pass `user.workspace_id` to every service, and
with row security on PostgreSQL shows that workspace's rows only.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from urllib.parse import quote

from asgi_csrf import asgi_csrf
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from billflow.config import Settings
from billflow.db import enter_workspace, leave_workspace
from billflow.services import users
from billflow.web import reveal
from billflow.web.deps import DatabaseDep
from models.api_keys import ApiRole

log = logging.getLogger(__name__)

APP_PREFIX = "/app"
SESSION_COOKIE = "billflow_session"
SESSION_MAX_AGE = 12 * 3600  # a working day; then sign in again
# Sign-in and account pages are protected even before any cookie exists (login CSRF).
ALWAYS_PROTECT = {"/app/login", "/app/forgot"}


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class RoleRequired(Exception):
    def __init__(self, role: ApiRole, has: ApiRole) -> None:
        super().__init__(f"your role ({has.value}) may not do this: it needs {role.value}")
        self.role = role


# Forms that upload a file (multipart/form-data). asgi-csrf 0.11 parses multipart bodies with a python-multipart
# argument (FileClass) that python-multipart 0.0.34 no longer takes, so it fails with a TypeError: these routes
# skip it and check the same signed double-submit token themselves after parsing (`multipart_csrf`).
MULTIPART_FORMS = {f"{APP_PREFIX}/settings/profile"}


def _not_app(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return not (path == APP_PREFIX or path.startswith(APP_PREFIX + "/"))


def _skips_csrf_middleware(scope: Scope) -> bool:
    return _not_app(scope) or scope.get("path", "") in MULTIPART_FORMS


class CsrfRefused(Exception):
    pass


async def multipart_csrf(request: Request) -> None:
    """The CSRF check of a MULTIPART_FORMS route: the form's `csrftoken` must equal the cookie's token, which
    asgi-csrf has already checked for its signature (a missing or forged cookie gives a fresh token: no match)."""
    form = await request.form()
    given = form.get("csrftoken")
    expected = request.scope.get("csrftoken")
    if not isinstance(given, str) or not callable(expected) or not secrets.compare_digest(given, expected()):
        raise CsrfRefused


MultipartCsrf = Depends(multipart_csrf)


_CSRF_FAILED_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>Form expired</title>"
    b"<h1>This form could not be accepted</h1><p>Its security token is missing or stale (CSRF protection). "
    b'<a href="/app">Go back</a>, reload the page and try again.</p>'
)


async def _csrf_failed(scope: Scope, send: Send, message_id: Any) -> None:
    body = _CSRF_FAILED_PAGE
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class CsrfMiddleware:
    """asgi-csrf as Starlette middleware, applied only under /app (the API uses bearer keys, webhooks signatures)."""

    def __init__(self, app: ASGIApp, *, secret: str, secure: bool) -> None:
        self._app = asgi_csrf(
            app,
            signing_secret=secret,
            cookie_path=APP_PREFIX,
            cookie_secure=secure,
            cookie_samesite="Strict",
            always_protect=ALWAYS_PROTECT,
            skip_if_scope=_skips_csrf_middleware,
            send_csrf_failed=_csrf_failed,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    secret = settings.secret_key
    if not secret:
        # Development: sessions last as long as the process. Production deployments set BILLFLOW_SECRET_KEY.
        log.warning("BILLFLOW_SECRET_KEY is unset: staff app sessions end when this process stops")
        secret = secrets.token_urlsafe(32)
    reveal.install(app, secret)
    secure = settings.public_base_url.startswith("https://")
    app.add_middleware(CsrfMiddleware, secret=secret, secure=secure)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path=APP_PREFIX,
        same_site="lax",  # lax: a link from an email into the app keeps the session; forms carry CSRF tokens
        https_only=secure,
    )

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"{APP_PREFIX}/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf_refused(request: Request, exc: CsrfRefused) -> HTMLResponse:
        return HTMLResponse(_CSRF_FAILED_PAGE, status_code=403, headers={"Cache-Control": "no-store"})

    @app.exception_handler(RoleRequired)
    async def _forbidden(request: Request, exc: RoleRequired) -> HTMLResponse:
        from billflow.web.pages.rendering import render

        return render(request, "forbidden.html", status_code=403, message=str(exc))


def start_session(request: Request, user: users.UserOut) -> None:
    request.session.clear()  # a new cookie value at sign-in (no fixation)
    request.session.update({"uid": user.id, "epoch": user.session_epoch})


def end_session(request: Request) -> None:
    request.session.clear()


async def current_user(request: Request, db: DatabaseDep) -> users.UserOut | None:
    data = request.session  # FastAPI runs this once per request, however many dependencies ask
    user = None
    if isinstance(data.get("uid"), int) and isinstance(data.get("epoch"), int):
        user = await users.session_user(db, user_id=data["uid"], epoch=data["epoch"])
        if user is None:
            request.session.clear()
    return user


def require(role: ApiRole) -> Callable[..., AsyncIterator[users.UserOut]]:
    async def dependency(
        request: Request, user: Annotated[users.UserOut | None, Depends(current_user)]
    ) -> AsyncIterator[users.UserOut]:
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target if request.method == "GET" else APP_PREFIX)
        if not user.role.allows(role):
            raise RoleRequired(role, user.role)
        # The staff app is the user's workspace's: its queries run there (billflow/db.py: row security, and the
        # repositories' lookups by number), as an API key's do.
        enter_workspace(user.workspace_id)
        try:
            yield user
        finally:
            leave_workspace()

    dependency.__name__ = f"page_{role.value}"
    return dependency


ViewerUser = Annotated[users.UserOut, Depends(require(ApiRole.viewer))]
StaffUser = Annotated[users.UserOut, Depends(require(ApiRole.staff))]
AdminUser = Annotated[users.UserOut, Depends(require(ApiRole.admin))]
MaybeUser = Annotated[users.UserOut | None, Depends(current_user)]
