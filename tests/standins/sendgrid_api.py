"""A stand-in for SendGrid's v3 mail send: records each JSON request and answers 202 with an X-Message-Id.

With `event_webhook` set (URL and a signing function), it also behaves like SendGrid's Event Webhook: every
accepted message is followed by a signed `processed` event carrying its custom args, posted (and retried) from
the provider's side, whatever became of the client that sent the message."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.standins.server import StandIn


class SendGridStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[Route("/v3/mail/send", self._send, methods=["POST"])])
        # (URL, sign(events) -> (body, headers)) of billflow's event webhook; None: no events are posted
        self.event_webhook: tuple[str, Callable[[list[dict[str, Any]]], tuple[bytes, dict[str, str]]]] | None = None
        self.events_posted = 0
        self._posting: set[asyncio.Task[None]] = set()

    @property
    def mails(self) -> list[dict]:
        return [r.json for r in self.requests if r.path == "/v3/mail/send" and r.json is not None]

    async def _send(self, request: Request) -> Response:
        recorded = await self.record(request)
        recorded.json = json.loads(recorded.body)
        if (fault := await self.fault_response(request)) is not None:
            recorded.json = None  # not accepted
            return fault
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return self.error(401, "The provided authorization grant is invalid, expired, or revoked")
        message_id = f"sg-msg-{next(self._ids):05d}"
        if self.event_webhook is not None:
            task = asyncio.get_running_loop().create_task(self._post_processed(recorded.json, message_id))
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    async def _post_processed(self, mail: dict[str, Any], message_id: str) -> None:
        assert self.event_webhook is not None
        url, sign = self.event_webhook
        event = {
            "event": "processed",
            "email": mail["personalizations"][0]["to"][0]["email"],
            "timestamp": int(time.time()),
            "sg_event_id": f"processed-{message_id}",
            "sg_message_id": f"{message_id}.filter0001",
            **mail.get("custom_args", {}),
        }
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(60):  # SendGrid retries a failed delivery for hours; a minute is enough here
                body, headers = sign([event])  # signed afresh: the timestamp must stay recent
                try:
                    if (await client.post(url, content=body, headers=headers)).status_code < 300:
                        self.events_posted += 1
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1.0)
