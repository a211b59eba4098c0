"""A stand-in for the part of the Stripe API billflow uses: create, retrieve and expire Checkout Sessions, and
refund the charge a completed session made.

It speaks Stripe's wire format (form-encoded requests, JSON objects and error bodies) and keeps Stripe's
idempotency contract: a repeated Idempotency-Key with the same parameters replays the first response; with
different parameters it is a 400. Stripe Connect: a request with a Stripe-Account header acts on that connected
account; its sessions and charges are invisible from the platform and from other accounts (a 404, as Stripe).
A request with another secret key (a workspace's own keys) acts on that key's account, invisible likewise.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.server import StandIn


class StripeStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}  # by payment intent id
        self.account_of: dict[str, str | None] = {}  # session id -> the connected account it was made on
        self._replay: dict[str, tuple[str, int, dict[str, Any]]] = {}  # key -> (params hash, status, body)
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]  # ids stay unique across tests sharing one database
        self.app = Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create, methods=["POST"]),
                Route("/v1/checkout/sessions/{sid}", self._retrieve, methods=["GET"]),
                Route("/v1/checkout/sessions/{sid}/expire", self._expire, methods=["POST"]),
                Route("/v1/refunds", self._refund, methods=["POST"]),
            ]
        )

    # --- what tests look at ------------------------------------------------------------------------

    def writes(self, path_contains: str = "") -> list[Any]:
        return [r for r in self.requests if r.method == "POST" and path_contains in r.path]

    def session_id(self, n: int) -> str:
        """The id of the n-th session this stand-in created (1-based)."""
        return f"cs_test_{self._prefix}{n:04d}"

    def complete(self, session_id: str, *, payment_status: str = "paid") -> dict[str, Any]:
        """What happens when the client pays on Stripe's page: the session completes."""
        session = self.sessions[session_id]
        intent = f"pi_{session_id[3:]}"
        session.update(status="complete", payment_status=payment_status, payment_intent=intent)
        self.charges[intent] = {
            "id": f"ch_{session_id[3:]}",
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": 0,
            "currency": session["currency"],
            "payment_intent": intent,
            "metadata": dict(session["metadata"]),
            "refunded": False,
            "session": session_id,
        }
        return dict(session)

    def charge_of(self, session_id: str) -> dict[str, Any]:
        """The charge a completed session made (what a `charge.refunded` event carries)."""
        return dict(self.charges[f"pi_{session_id[3:]}"])

    def _visible(self, request: Request, session_id: str) -> dict[str, Any] | None:
        """The session, if it was made on the account this request acts on."""
        if session_id not in self.sessions or self.account_of.get(session_id) != _account(request):
            return None
        return self.sessions[session_id]

    def error(self, status: int, message: str, **extra: Any) -> Response:
        kind = {429: "rate_limit_error"}.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status)

    # --- the API -------------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        recorded = await self.record(request)
        recorded.form = dict(parse_qsl(recorded.body.decode(), keep_blank_values=True))
        key = recorded.headers.get("idempotency-key")
        digest = hashlib.sha256(recorded.body).hexdigest()
        fault = await self.take_fault(request)  # faults sit in front of Stripe, before its idempotency layer
        if fault is not None and fault.status is not None and not fault.answer_lost and not fault.saved:
            return self.error(fault.status, fault.message)
        if key and key in self._replay:
            first_digest, status, body = self._replay[key]
            if first_digest != digest:
                return self.error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters",
                    code="idempotency_error",
                )
            return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})
        if fault is not None and fault.status is not None and fault.saved:
            response = self.error(fault.status, fault.message)
            if key:
                self._replay[key] = (digest, fault.status, json.loads(bytes(response.body)))
            return response
        form = recorded.form
        currency = form.get("line_items[0][price_data][currency]", "")
        if form.get("mode") != "payment" or not currency:
            return self.error(400, "Missing required param: mode or line_items.", param="mode")
        amount = 0
        for index in itertools.count():
            prefix = f"line_items[{index}]"
            if f"{prefix}[quantity]" not in form:
                break
            amount += int(form[f"{prefix}[price_data][unit_amount]"]) * int(form[f"{prefix}[quantity]"])
        sid = self.session_id(next(self._ids))
        session = {
            "id": sid,
            "object": "checkout.session",
            "url": f"https://checkout.stripe.test/c/pay/{sid}",
            "status": "open",
            "payment_status": "unpaid",
            "mode": "payment",
            "amount_total": amount,
            "currency": currency,
            "customer_email": form.get("customer_email"),
            "client_reference_id": form.get("client_reference_id"),
            "payment_intent": None,
            "expires_at": int(time.time()) + 24 * 3600,
            "metadata": {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")},
        }
        self.sessions[sid] = session
        self.account_of[sid] = _account(request)
        if key:
            self._replay[key] = (digest, 200, dict(session))
        if fault is not None and fault.status is not None:  # answer_lost: created, but the client hears an error
            return self.error(fault.status, fault.message)
        return JSONResponse(session)

    async def _retrieve(self, request: Request) -> Response:
        await self.record(request)
        if (fault := await self.fault_response(request)) is not None:
            return fault
        session = self._visible(request, request.path_params["sid"])
        if session is None:
            return self.error(404, f"No such checkout.session: '{request.path_params['sid']}'", code="resource_missing")
        return JSONResponse(session)

    async def _expire(self, request: Request) -> Response:
        await self.record(request)
        if (fault := await self.fault_response(request)) is not None:
            return fault
        session = self._visible(request, request.path_params["sid"])
        if session is None:
            return self.error(404, "No such checkout.session", code="resource_missing")
        if session["status"] != "open":
            return self.error(400, 'Only Checkout Sessions with a status in ["open"] can be expired.')
        session["status"] = "expired"
        return JSONResponse(session)

    async def _refund(self, request: Request) -> Response:
        recorded = await self.record(request)
        recorded.form = dict(parse_qsl(recorded.body.decode(), keep_blank_values=True))
        if (fault := await self.fault_response(request)) is not None:
            return fault
        key = recorded.headers.get("idempotency-key")
        digest = hashlib.sha256(recorded.body).hexdigest()
        if key and key in self._replay:
            first_digest, status, body = self._replay[key]
            if first_digest != digest:
                return self.error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters",
                    code="idempotency_error",
                )
            return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})
        form = recorded.form
        charge = self.charges.get(form.get("payment_intent", ""))
        if charge is not None and self.account_of.get(charge["session"]) != _account(request):
            charge = None  # another account's payment: Stripe does not know it here
            return self.error(404, f"No such payment_intent: '{form.get('payment_intent')}'", code="resource_missing")
        amount = int(form.get("amount") or charge["amount"] - charge["amount_refunded"])
        left = charge["amount"] - charge["amount_refunded"]
        if amount > left:
            return self.error(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
                param="amount",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        expanded = "charge" in {v for k, v in form.items() if k.startswith("expand[")}
        body = {
            "id": f"re_{self._prefix}{next(self._ids):04d}",
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": dict(charge) if expanded else charge["id"],
            "payment_intent": charge["payment_intent"],
            "status": "succeeded",
            "reason": form.get("reason"),
            "metadata": {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")},
        }
        if key:
            self._replay[key] = (digest, 200, body)
        return JSONResponse(body)


def _account(request: Request) -> str | None:
    """The account a request acts on: the secret key's own (its Authorization), or the connected account it names
    (Stripe Connect's Stripe-Account header). Objects of one are invisible from the others, as on Stripe."""
    key = request.headers.get("authorization", "").removeprefix("Bearer ")
    return f"{key}|{request.headers.get('stripe-account') or ''}"
