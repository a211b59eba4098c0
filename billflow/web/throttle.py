"""Throttling of failed authentication and token guessing, per client address (429 with Retry-After).

What counts as a failure: any 401 (a missing, wrong or revoked API key; a bad Cal.com or booking-system
signature), a Stripe or SendGrid delivery whose signature does not verify (those routes answer 400 and call
`count_failure`), and a 404 on the token pages (`/i/{token}`, `/pay/{token}`, the portal's `/p/{token}`): an
unknown token is a guess.
An address that failed more often than BILLFLOW_AUTH_FAILURE_LIMIT (default 20 a minute, a moving window) is
answered 429 before its request is looked at, until its oldest failure leaves the window. Successful requests
never spend the budget, so legitimate traffic is not slowed, and other addresses are not affected.

The counters live in this process's memory (the `limits` library's MemoryStorage): with several API processes
each keeps its own budget, so an address gets up to N times the limit across N processes. The client address
is the connection's peer; behind a reverse proxy run uvicorn with `--forwarded-allow-ips` set to the proxy's
address so X-Forwarded-For names the real client (uvicorn trusts it from 127.0.0.1 by default).
"""

from __future__ import annotations

import json
import logging
import math
import time

from fastapi import FastAPI, Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billflow.config import Settings

log = logging.getLogger(__name__)

TOKEN_PAGES = ("/i/", "/pay/", "/p/")
# The staff app throttles its own sign-ins (per account and per address: billflow/services/users.py); counting
# them here too would block an address's sign-in page before the app could answer it.
OWN_THROTTLE = ("/app",)
FAILED_FLAG = "billflow_auth_failed"


def count_failure(request: Request) -> None:
    """Mark this request as a failed authentication whatever its status (the signed webhooks answer 400)."""
    request.scope.setdefault("state", {})[FAILED_FLAG] = True


def _is_failure(scope: Scope, status: int) -> bool:
    if status == 401 or (scope.get("state") or {}).get(FAILED_FLAG):
        return True
    return status == 404 and str(scope.get("path", "")).startswith(TOKEN_PAGES)


class FailureThrottle:
    """ASGI middleware: refuse an address over its failure budget; spend the budget on each failure."""

    def __init__(self, app: ASGIApp, limit: RateLimitItem) -> None:
        self.app = app
        self.limit = limit
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if str(scope.get("path", "")).startswith(OWN_THROTTLE):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        if not self.limiter.test(self.limit, address):
            await self._too_many(send, address)
            return
        scope.setdefault("state", {})  # shared with the route's Request.state (count_failure)
        status = 0

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, observing_send)
        if _is_failure(scope, status) and not self.limiter.hit(self.limit, address):
            log.warning("client %s is over its failed-authentication budget (%s)", address, self.limit)

    async def _too_many(self, send: Send, address: str) -> None:
        reset_at = self.limiter.get_window_stats(self.limit, address).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        body = json.dumps({"detail": f"too many failed attempts from this address; retry in {retry_after} s"})
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def install(app: FastAPI, settings: Settings) -> None:
    if settings.auth_failure_limit:
        app.add_middleware(FailureThrottle, limit=parse(settings.auth_failure_limit))
