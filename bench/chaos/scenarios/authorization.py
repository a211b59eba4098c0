"""Authorization: every staff endpoint (enumerated from the app's routes) refuses a missing, malformed, wrong,
revoked or under-privileged key (401/403), and accepts the right one; the invoice page token carries at least
128 random bits, and a page reveals its own invoice only. Workspaces (issue 13): every route, called with another
workspace's admin key and the first workspace's invoice numbers, client ids, catalog entry, subscription and slug,
answers 404 or 403 (or a list of its own data), never the first workspace's data, and writes nothing there.
Throttling: an address that keeps failing (wrong keys, guessed page tokens) gets 429 with Retry-After once over
its budget, while other addresses are served as before.

The web app sits behind uvicorn, which trusts X-Forwarded-For from loopback: each part of the matrix presents
its own client address, so the matrix tests authorization and the throttling part tests the budget."""

from __future__ import annotations

import asyncio
import math
import re
import secrets
import time
from collections import Counter
from typing import Any

import httpx
import psycopg
from fastapi.routing import APIRoute
from limits import parse

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.report import ScenarioResult
from bench.chaos.workload import plan, start_all
from billflow.db import Database
from billflow.services.api_keys import NewApiKey, create_key, revoke_key
from models.api_keys import ApiRole

NAME = "authorization"
ROLES = {f"require_{role.value}": role for role in ApiRole}
URLSAFE_BITS_PER_CHAR = math.log2(64)


def required_role(route: APIRoute) -> ApiRole | None:
    """The role a route's `require_role` dependency demands (None: no staff key involved)."""
    found: list[ApiRole] = []

    def walk(dependant: Any) -> None:
        name = getattr(dependant.call, "__name__", "")
        if name in ROLES:
            found.append(ROLES[name])
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return max(found, key=lambda r: r.rank) if found else None


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps them nested)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out += api_routes(route.original_router.routes)
        elif hasattr(route, "routes"):
            out += api_routes(route.routes)
    return out


def staff_routes() -> tuple[list[tuple[str, str, ApiRole]], list[str]]:
    """(method, path, role) of every operation the OpenAPI document marks as secured, with the role its
    `require_role` dependency demands; and the secured operations whose role could not be determined."""
    from billflow.config import Settings
    from billflow.web.app import create_app

    app = create_app(Settings(), None, None)  # type: ignore[arg-type]
    roles = {
        (method, route.path): role
        for route in api_routes(app.routes)
        if (role := required_role(route)) is not None
        for method in route.methods or ()
    }
    secured = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and path != "/v1/events"  # events: signature or key (checked by webhooks)
    ]
    known = [(m, p, roles[(m, p)]) for m, p in secured if (m, p) in roles]
    unknown = [f"{m} {p}" for m, p in secured if (m, p) not in roles]
    return known, unknown


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "INV-2026-000001", path)


def client_address(n: int) -> dict[str, str]:
    """A distinct client address (documentation range 198.18.0.0/15), as a reverse proxy would pass it."""
    return {"X-Forwarded-For": f"198.18.{n // 250}.{n % 250 + 1}"}


async def run(ctx: SuiteContext) -> ScenarioResult:
    began = time.monotonic()
    result = ScenarioResult(NAME)
    async with ChaosStack(ctx.postgres, ctx.scenario_dir("authorization"), api=True) as stack:
        await _run(stack, result, invoices=5 if ctx.short else 50)
    result.seconds = time.monotonic() - began
    return result


async def _run(stack: ChaosStack, result: ScenarioResult, *, invoices: int) -> None:
    assert stack.api is not None and stack.client is not None
    db = Database(stack.settings_env["DATABASE_URL"], pool_size=1)
    keys = {role: (await create_key(db, NewApiKey(name=f"chaos {role.value}", role=role))).token for role in ApiRole}
    revoked = await create_key(db, NewApiKey(name="chaos revoked", role=ApiRole.admin))
    await revoke_key(db, key_id=revoked.key_id)
    await db.dispose()
    admin = keys[ApiRole.admin]
    key_id = admin.split("_")[1]
    bad: dict[str, dict[str, str]] = {
        "missing": {},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "empty bearer": {"Authorization": "Bearer"},
        "unknown key": {"Authorization": f"Bearer bf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"},
        "wrong secret": {"Authorization": f"Bearer bf_{key_id}_{secrets.token_urlsafe(32)}"},
        "revoked": {"Authorization": f"Bearer {revoked.token}"},
        "revoked via X-API-Key": {"X-API-Key": revoked.token},
        "basic scheme": {"Authorization": f"Basic {admin}"},
    }
    routes, unknown = staff_routes()
    if not routes:
        result.problems.append("no staff route found in the OpenAPI document")
    result.problems += [f"{op}: secured, but no require_role dependency found" for op in unknown]
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=30) as http:
        address: dict[str, str] = {}

        async def call(method: str, path: str, headers: dict[str, str]) -> int:
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
            answer = await http.request(method, fill(path), headers={**address, **headers}, json=body)
            answers[str(answer.status_code)] += 1
            return answer.status_code

        for n, (method, path, role) in enumerate(routes):
            address = client_address(n)  # a handful of failures per address: within the throttle's budget
            for label, headers in bad.items():
                status = await call(method, path, headers)
                if status != 401:
                    result.problems.append(f"{method} {path} with a {label} key: {status}, expected 401")
            for lower in (r for r in ApiRole if r.rank < role.rank):
                status = await call(method, path, {"Authorization": f"Bearer {keys[lower]}"})
                if status != 403:
                    result.problems.append(f"{method} {path} with a {lower.value} key: {status}, expected 403")
            status = await call(method, path, {"Authorization": f"Bearer {keys[role]}"})
            if status in (401, 403):  # the check must be able to pass: the right key gets through
                result.problems.append(f"{method} {path} refused its own role {role.value}: {status}")
        tokens = await _tokens(stack, http, result, invoices, first_address=len(routes))
        await _client_takeover(stack, http, result, staff_key=keys[ApiRole.staff])
        await _cross_workspace(stack, http, result, routes, first_address=len(routes) + invoices + 10)
        budget = parse(stack.settings.auth_failure_limit).amount  # BILLFLOW_AUTH_FAILURE_LIMIT of the stack
        await _throttling(http, result, keys[ApiRole.viewer], tokens, answers, budget=budget)
    result.faults = sum(answers.values())
    result.notes.append(
        f"{len(routes)} staff routes x {len(bad)} bad keys + under-privileged roles; answers "
        + ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
    )


async def _tokens(
    stack: ChaosStack, http: httpx.AsyncClient, result: ScenarioResult, count: int, *, first_address: int
) -> list[str]:
    assert stack.client is not None
    planned = plan(count, paid_share=0.0)
    await start_all(stack.client, planned, task_queue=stack.task_queue)
    rows: list[tuple[str, str]] = []
    for _ in range(120):
        with psycopg.connect(stack.plain_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT number, public_token FROM invoices WHERE workflow_id = ANY(%s)",
                ([p.workflow_id for p in planned],),
            ).fetchall()
        if len(rows) == count:
            break
        await asyncio.sleep(0.5)
    result.invoices = len(rows)
    if len(rows) < count:
        result.lost += count - len(rows)
        result.problems.append(f"lost: {count - len(rows)} invoices never recorded")
    tokens = [t for _, t in rows]
    if len(set(tokens)) != len(tokens):
        result.problems.append("two invoices share a page token")
    weakest = min((len(t) * URLSAFE_BITS_PER_CHAR for t in tokens), default=0.0)
    if any(not re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens) or weakest < 128:
        result.problems.append(f"page tokens carry {weakest:.0f} bits (at least 128 required)")
    numbers = [n for n, _ in rows]
    for n, (number, token) in enumerate(rows):
        address = client_address(first_address + n)  # 8 guesses per address: within the budget
        page = await http.get(f"/i/{token}", headers=address)
        others = [n for n in numbers if n != number and n in page.text]
        if page.status_code != 200 or number not in page.text:
            result.problems.append(f"/i/<token of {number}>: {page.status_code}, its own number missing")
        if others:
            result.problems.append(f"/i/<token of {number}> reveals other invoices: {others}")
        near = token[:-1] + ("A" if token[-1] != "A" else "B")  # one character off
        for guess in (near, token[:16], token.upper(), secrets.token_urlsafe(24)):
            for prefix in ("/i/", "/pay/"):
                status = (await http.get(f"{prefix}{guess}", headers=address)).status_code
                if status != 404:
                    result.problems.append(f"{prefix}<guessed token>: {status}, expected 404")
    result.notes.append(f"page tokens: {len(tokens)} unique, {weakest:.0f} bits each (url-safe base64)")
    return tokens


async def _throttling(
    http: httpx.AsyncClient,
    result: ScenarioResult,
    viewer_key: str,
    tokens: list[str],
    answers: Counter[str],
    *,
    budget: int,
) -> None:
    """Wrong keys and token guesses from one address: 401/404 up to the budget, then 429 with Retry-After, even
    for a right key or a real token from that address; a legitimate address meanwhile is answered at once."""
    legit = {**client_address(60_000), "Authorization": f"Bearer {viewer_key}"}
    for label, prefix in (("wrong keys", "/v1/invoices"), ("token guesses", "/i/")):
        attacker = client_address(61_000 if label == "wrong keys" else 62_000)
        statuses: list[int] = []
        retry_after: set[str] = set()
        for _ in range(budget + 10):
            if label == "wrong keys":
                headers = {**attacker, "Authorization": f"Bearer bf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"}
                answer = await http.get(prefix, headers=headers)
            else:
                answer = await http.get(f"{prefix}{secrets.token_urlsafe(24)}", headers=attacker)
            statuses.append(answer.status_code)
            answers[str(answer.status_code)] += 1
            if answer.status_code == 429:
                retry_after.add(answer.headers.get("Retry-After", ""))
        expected = [401 if label == "wrong keys" else 404] * budget + [429] * 10
        if statuses != expected:
            result.problems.append(f"throttling, {label}: answers {Counter(statuses)}, expected {Counter(expected)}")
        if not retry_after or not all(v.isdigit() and 1 <= int(v) <= 3600 for v in retry_after):
            result.problems.append(f"throttling, {label}: 429 without a usable Retry-After ({retry_after})")
        # the blocked address is refused even with a right credential; another address is not slowed
        right = (
            await http.get(prefix, headers={**attacker, "Authorization": f"Bearer {viewer_key}"})
            if label == "wrong keys"
            else await http.get(f"/i/{tokens[0]}", headers=attacker)
            if tokens
            else None
        )
        if right is not None and right.status_code != 429:
            result.problems.append(f"throttling, {label}: a blocked address got {right.status_code} with a right one")
        began = time.monotonic()
        served = await http.get("/v1/invoices", headers=legit)
        page = await http.get(f"/i/{tokens[0]}", headers=client_address(60_001)) if tokens else None
        took = time.monotonic() - began
        if served.status_code != 200 or (page is not None and page.status_code != 200):
            result.problems.append(f"throttling, {label}: a legitimate address was refused ({served.status_code})")
        answers[str(served.status_code)] += 1
    result.notes.append(
        f"throttling: {budget} failures per address and minute, then 429 with Retry-After; "
        f"legitimate requests from another address answered in {took * 1000:.0f} ms"
    )


# --- issue 11: one source cannot take over another source's client ----------------------------------------


def _booking(event_id: str, external_id: str, email: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "booking.confirmed",
        "data": {
            "booking_id": f"bk-{event_id}",
            "client": {"external_id": external_id, "name": "Grace Hopper", "email": email, "timezone": "UTC"},
            "services": [{"description": "Session", "unit_price_minor": 5000}],
            "currency": "EUR",
        },
    }


async def _client_takeover(
    stack: ChaosStack, http: httpx.AsyncClient, result: ScenarioResult, *, staff_key: str
) -> None:
    """Integration A books client `victim`; integration B, then a staff key naming A, post bookings with the
    same client id and another email. A's client keeps its email, and A's invoice mails only it."""
    import json

    from billflow.services import integrations

    run = secrets.token_hex(4)
    db = Database(stack.settings_env["DATABASE_URL"], pool_size=1)
    owner = await integrations.create_integration(db, integrations.NewIntegration(name=f"owner-{run}"))
    rival = await integrations.create_integration(db, integrations.NewIntegration(name=f"rival-{run}"))
    await db.dispose()
    victim, victim_email, attacker_email = f"victim-{run}", f"victim-{run}@example.com", f"mallory-{run}@example.com"

    async def signed(name: str, secret: str, body: dict[str, Any]) -> httpx.Response:
        raw = json.dumps(body).encode()
        headers = integrations.signed_headers(name, secret, raw) | {"Content-Type": "application/json"}
        return await http.post("/v1/events", content=raw, headers=headers)

    answers = [
        await signed(owner.name, owner.secret, _booking(f"own-{run}", victim, victim_email)),
        await signed(rival.name, rival.secret, _booking(f"rival-{run}", victim, attacker_email)),
        await http.post(
            "/v1/events",
            json=_booking(f"staff-{run}", victim, attacker_email),
            headers={"Authorization": f"Bearer {staff_key}", integrations.INTEGRATION_HEADER: owner.name},
        ),
    ]
    result.problems += [
        f"takeover step {n}: {a.status_code} {a.text[:120]}" for n, a in enumerate(answers) if a.status_code >= 500
    ]
    owned: tuple[Any, ...] | None = None
    mailed: list[str] = []
    for _ in range(60):  # the owner's invoice is issued and emailed by its workflow
        with psycopg.connect(stack.plain_url, autocommit=True) as conn:
            owned = conn.execute(
                "SELECT id, email FROM clients WHERE source = %s AND external_id = %s",
                (f"integration:{owner.name}", victim),
            ).fetchone()
            mailed = [
                r[0]
                for r in conn.execute(
                    "SELECT m.to_email FROM email_messages m JOIN invoices i ON i.id = m.invoice_id "
                    "WHERE i.source_key = %s",
                    (f"booking:{owner.name}:bk-own-{run}",),
                ).fetchall()
            ]
        if owned is not None and mailed:
            break
        await asyncio.sleep(0.5)
    if owned is None or owned[1] != victim_email:
        result.problems.append(f"takeover: the owner's client is now {owned!r} (expected {victim_email})")
    if not mailed or set(mailed) != {victim_email}:
        result.problems.append(f"takeover: the owner's invoice mailed {sorted(set(mailed))} (expected {victim_email})")
    result.notes.append(
        f"issue 11: cross-source takeover (a second integration, a staff key naming the first) answered "
        f"{[a.status_code for a in answers]}; the owner's client and its invoice emails kept {victim_email}"
    )


# --- issue 13: one workspace's key cannot read or change another workspace's data ---------------------------

REFUSALS = {400, 403, 404, 405, 422}
# Bodies that pass validation where they can, so a route's own checks (not just its schema) are reached.
WRITE_BODY: dict[str, Any] = {
    "amount_minor": 100, "reason": "chaos", "text": "chaos", "note": "chaos", "kind": "invoice_issued", "days": 7,
    "lines": [{"description": "x", "unit_price_minor": 100}], "name": "chaos",
}  # fmt: skip


def _first_workspace_state(url: str) -> tuple[Any, ...]:
    """What a write of another workspace's key would change in the first workspace."""
    with psycopg.connect(url, autocommit=True) as conn:
        return (
            conn.execute(
                "SELECT (SELECT count(*) FROM payments WHERE workspace_id = 1),"
                " (SELECT count(*) FROM credit_notes WHERE workspace_id = 1),"
                " (SELECT count(*) FROM timeline_events WHERE workspace_id = 1 AND kind LIKE 'note%%'),"
                " (SELECT string_agg(event_type || ':' || unit_price_minor, ',') FROM service_catalog"
                "   WHERE workspace_id = 1),"
                " (SELECT string_agg(id || ':' || status, ',') FROM subscriptions WHERE workspace_id = 1),"
                " (SELECT name || ':' || COALESCE(invoice_footer, '') FROM workspaces WHERE id = 1)"
            ).fetchone()
            or ()
        )


async def _cross_workspace(
    stack: ChaosStack,
    http: httpx.AsyncClient,
    result: ScenarioResult,
    routes: list[tuple[str, str, ApiRole]],
    *,
    first_address: int,
) -> None:
    from billflow.services import workspaces
    from models.workspaces import WorkspaceCreate

    run = secrets.token_hex(4)
    db = Database(stack.settings_env["DATABASE_URL"], pool_size=1)
    other = await workspaces.create_workspace(db, WorkspaceCreate(slug=f"rival-{run}", name=f"Rival {run}"))
    assert other.id is not None
    key = (await create_key(db, NewApiKey(name=f"rival {run}", role=ApiRole.admin, workspace_id=other.id))).token
    await db.dispose()
    with psycopg.connect(stack.plain_url, autocommit=True) as conn:
        invoices = conn.execute(
            "SELECT i.number, i.public_token, c.external_id, c.email, c.id FROM invoices i "
            "JOIN clients c ON c.id = i.client_id WHERE i.workspace_id = 1"
        ).fetchall()
        if not invoices:
            result.problems.append("cross-workspace: the first workspace has no invoice to aim at")
            return
        conn.execute(
            "INSERT INTO service_catalog (workspace_id, event_type, service_name, unit_price_minor, currency, "
            "tax_rate_bp, created_at, updated_at) VALUES (1, %s, 'First workspace only', 4200, 'EUR', 0, now(), now())",
            (f"first-{run}",),
        )
        conn.execute(
            "INSERT INTO subscriptions (id, workspace_id, client_id, currency, interval, timezone, start_date, "
            "issue_hour, payment_terms_seconds, reminder_policy, status, workflow_id, periods_billed, "
            "periods_skipped, created_at, updated_at) VALUES (%s, 1, %s, 'EUR', '{\"kind\": \"monthly\"}', 'UTC', "
            "current_date, 9, 0, '{}', 'active', %s, 0, 0, now(), now())",
            (f"sub-first-{run}", invoices[0][4], f"subscription-first-{run}"),
        )
    number, _, external_id, _, _ = invoices[0]
    values = {
        "number": number, "external_id": external_id, "event_type": f"first-{run}",
        "subscription_id": f"sub-first-{run}", "slug": "default", "document_type": "invoice",
    }  # fmt: skip
    markers = {str(m) for row in invoices for m in row[:4]} | {f"sub-first-{run}", "First workspace only"}
    before = _first_workspace_state(stack.plain_url)
    headers = {**client_address(first_address), "Authorization": f"Bearer {key}"}
    calls, statuses = 0, Counter[int]()
    for method, path, _role in routes:
        if path.startswith("/codec/"):
            continue  # the Temporal UI's codec: no workspace data behind it
        url = re.sub(r"\{([^}]+)\}", lambda m: str(values.get(m.group(1), "x")), path)
        body = (WRITE_BODY | {"event_type": values["event_type"]}) if method in ("POST", "PUT", "PATCH") else None
        answer = await http.request(method, url, headers=headers, json=body)
        calls += 1
        statuses[answer.status_code] += 1
        leaked = sorted(m for m in markers if m in answer.text)
        if answer.status_code >= 500 or answer.status_code == 409:
            result.problems.append(f"cross-workspace {method} {url}: {answer.status_code} {answer.text[:120]}")
        elif answer.status_code not in REFUSALS and leaked:
            result.problems.append(f"cross-workspace {method} {url}: {answer.status_code} shows {leaked[:3]}")
        elif answer.status_code in REFUSALS and leaked and not all(m in url for m in leaked):
            result.problems.append(f"cross-workspace {method} {url}: the refusal shows {leaked[:3]}")
    after = _first_workspace_state(stack.plain_url)
    if after != before:
        result.problems.append(f"cross-workspace writes reached the first workspace: {before} -> {after}")
    result.notes.append(
        f"issue 13: {calls} routes with another workspace's admin key and the first workspace's numbers, client "
        f"ids, catalog entry, subscription and slug: answers {dict(sorted(statuses.items()))}; "
        f"first workspace unchanged: {after == before}"
    )
