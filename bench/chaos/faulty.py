"""Random provider faults in front of a stand-in (an ASGI wrapper): a share of requests is answered 429 or 500
without reaching the provider, or "times out": with `stall`, the provider answers only after the client gave up
(it did accept the request); without, the provider accepts it and the answer is lost (a 500 goes back)."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RandomFaults:
    def __init__(self, app: ASGIApp, *, name: str, rate: float, stall: float | None, seed: int | None = None) -> None:
        self.app = app
        self.name = name
        self.rate = rate
        self.stall = stall
        self.counts: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def _roll(self) -> str | None:
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            fault = self._random.choice(("429", "500", "timeout"))
            self.counts[f"{self.name}-{fault}"] += 1
            return fault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self._roll() if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
        elif fault in ("429", "500"):
            await _error(send, int(fault))
        elif self.stall is not None:
            # The request arrived whole; the answer comes after the client has given up (it still counts).
            messages = [await receive()]
            while messages[-1]["type"] == "http.request" and messages[-1].get("more_body"):
                messages.append(await receive())
            await asyncio.sleep(self.stall)

            async def replay() -> Message:
                return messages.pop(0) if messages else {"type": "http.disconnect"}

            await self.app(scope, replay, send)
        else:

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)  # accepted, answer lost on the way back
            await _error(send, 500)


async def _error(send: Send, status: int) -> None:
    kind = "rate_limit_error" if status == 429 else "api_error"
    body = json.dumps({"error": {"type": kind, "message": "injected fault"}, "errors": [{"message": "injected"}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


def wrappers(rate: float, *, email_stall: float) -> tuple[Any, list[RandomFaults]]:
    """A `wrap(app)` for bench.chaos.standins.providers: Stripe first (answer lost), SendGrid second (stall)."""
    made: list[RandomFaults] = []

    def wrap(app: ASGIApp) -> RandomFaults:
        first = not made
        faults = RandomFaults(
            app, name="stripe" if first else "sendgrid", rate=rate, stall=None if first else email_stall
        )
        made.append(faults)
        return faults

    return wrap, made
