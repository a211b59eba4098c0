"""A stand-in for SendGrid's v3 mail send: records each JSON request and answers 202 with an X-Message-Id."""

from __future__ import annotations

import itertools
import json

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
        return Response(status_code=202, headers={"X-Message-Id": f"sg-msg-{next(self._ids):05d}"})
