"""Security headers on every response: a strict Content-Security-Policy, no framing, no Referer, no sniffing.

The pages are server-rendered with inline styles and no scripts, so the default policy allows exactly that.
The staff app (/app) gets a policy for its own scripts and stylesheet from this origin; the
interactive API docs (/docs, /redoc) load Swagger UI / ReDoc from their CDN and get a policy allowing it.
`Referrer-Policy: no-referrer` matters most: the invoice and pay pages' URLs carry their only credential.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# FastAPI's get_swagger_ui_html / get_redoc_html: scripts and styles from jsDelivr, one inline bootstrap script,
# the favicon from fastapi.tiangolo.com, and the schema fetched from this origin.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# The staff app (/app) loads its own script, stylesheet and plotly.js from this origin, and nothing inline.
APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
HEADERS = {
    b"referrer-policy": b"no-referrer",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",  # for browsers that predate frame-ancestors
}


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        csp = DOCS_CSP if path in DOCS_PATHS else APP_CSP if path.startswith("/app") else PAGE_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", csp)
                for name, value in HEADERS.items():
                    headers.setdefault(name.decode(), value.decode())
            await send(message)

        await self.app(scope, receive, with_headers)
