"""Hostile input: oversized bodies, wrong types, unknown currencies, negative or huge amounts, invalid time
zones, unicode and injection strings in every text field of a booking event, staff actions, query strings and
public tokens; chunked oversized bodies, signed but malformed payloads and a stale delivery on the webhooks
(hostile_webhooks). Every answer is a clear 4xx (422 naming the field) or a faithful 2xx; nothing refused is
stored; nothing crashes (no 5xx); stored hostile text comes back verbatim and is escaped on the invoice page."""

from __future__ import annotations

import asyncio
import copy
import time
from collections import Counter
from typing import Any

import httpx
import psycopg

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.report import ScenarioResult
from bench.chaos.scenarios.hostile_webhooks import run_webhook_cases, webhook_env
from bench.chaos.signing import SendGridSigner
from billflow.db import Database
from billflow.services.api_keys import NewApiKey, create_key
from billflow.services.integrations import NewIntegration, create_integration
from models.api_keys import ApiRole

NAME = "hostile input"

INJECTION = [
    "'; DROP TABLE invoices; --",
    '" OR 1=1 --',
    "<script>alert('billflow')</script>",
    "{{7*7}}{% raw %}",
    "${jndi:ldap://127.0.0.1/x}",
    "../../etc/passwd",
    "Zalgo Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "right-to-left \u202eevil\u202c and zero\u200bwidth",
    "emoji 💸🧾 and CJK 請求書",
    "line\r\nBcc: attacker@example.com",
]
REFUSED_TEXT = ["nul \x00 byte", "x" * 20_000]  # must be 422: NUL, over every max_length

# (json path, value) pairs that must be refused with a 4xx
BAD_VALUES: list[tuple[tuple[Any, ...], Any]] = [
    (("data", "currency"), "XXY"),
    (("data", "currency"), "gbp$"),
    (("data", "currency"), 826),
    (("data", "services", 0, "unit_price_minor"), -1),
    (("data", "services", 0, "unit_price_minor"), 10**30),
    (("data", "services", 0, "unit_price_minor"), "one hundred"),  # ("100" is coerced: pydantic's lax mode)
    (("data", "services", 0, "unit_price_minor"), 1.5),
    (("data", "services", 0, "unit_price_minor"), None),
    (("data", "services", 0, "quantity"), -3),
    (("data", "services", 0, "quantity"), "NaN"),
    (("data", "services", 0, "quantity"), "Infinity"),
    (("data", "services", 0, "tax_rate_bp"), 10_001),
    (("data", "tax_rate_bp"), -5),
    (("data", "payment_terms_days"), 10**9),
    (("data", "payment_terms_days"), "14 days"),
    (("data", "client", "timezone"), "Mars/Olympus_Mons"),
    (("data", "client", "timezone"), "../../../../etc/localtime"),
    (("data", "client", "timezone"), "UTC\x00"),
    (("data", "client", "email"), "not-an-email"),
    (("data", "client", "email"), "a@example.com\r\nBcc: attacker@example.com"),
    (("data", "client"), ["a", "list"]),
    (("data", "services"), []),
    (("data", "services"), {"description": "not a list"}),
    (("data", "starts_at"), "2026-13-45T99:00:00"),
    (("data", "starts_at"), "2026-11-20T10:00:00"),  # naive: no offset
    (("version",), 99),
    (("type",), "booking.exploded"),
    (("id",), 12345),
    (("data", "booking_id"), "bk/../../x"),
    (("data", "booking_id"), "bk 'OR'1'='1"),
]
TEXT_FIELDS: list[tuple[Any, ...]] = [
    ("data", "client", "name"),
    ("data", "services", 0, "description"),
    ("data", "memo"),
]


def event(case: str) -> dict[str, Any]:
    return {
        "id": f"evt-hostile-{case}",
        "type": "booking.confirmed",
        "version": 1,
        "data": {
            "booking_id": f"bk-hostile-{case}",
            "client": {
                "external_id": f"hostile-{case}",
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "timezone": "Europe/London",
            },
            "services": [{"description": "Session", "quantity": 1, "unit_price_minor": 5000}],
            "currency": "GBP",
            "tax_rate_bp": 2000,
            "payment_terms_days": 14,
            "memo": "thanks",
        },
    }


def put(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


async def run(ctx: SuiteContext) -> ScenarioResult:
    began = time.monotonic()
    result = ScenarioResult(NAME)
    signer = SendGridSigner()
    async with ChaosStack(ctx.postgres, ctx.scenario_dir("hostile_input"), api=True, env=webhook_env(signer)) as stack:
        await _run(stack, result, signer)
    result.seconds = time.monotonic() - began
    return result


async def _run(stack: ChaosStack, result: ScenarioResult, signer: SendGridSigner) -> None:
    assert stack.api is not None
    db = Database(stack.settings_env["DATABASE_URL"], pool_size=1)
    token = (await create_key(db, NewApiKey(name="hostile", role=ApiRole.admin))).token
    calcom = await create_integration(db, NewIntegration(name="hostile-calcom"))
    await db.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    answers: Counter[str] = Counter()
    refused: list[str] = []  # event ids that must leave no trace
    accepted: dict[str, tuple[tuple[Any, ...], str]] = {}  # event id -> (text field, hostile text)

    async with httpx.AsyncClient(base_url=stack.api.url, timeout=30, headers=auth) as http:

        async def send(case: str, doc: Any, *, must_refuse: bool, raw: bytes | None = None) -> httpx.Response:
            answer = await http.post(
                "/v1/events",
                content=raw if raw is not None else httpx.Request("POST", "/", json=doc).content,
                headers={"Content-Type": "application/json"},
            )
            answers[str(answer.status_code)] += 1
            if answer.status_code >= 500:
                result.problems.append(f"{case}: {answer.status_code} {answer.text[:160]}")
            elif must_refuse and answer.status_code < 400:
                result.problems.append(f"{case}: accepted ({answer.status_code}) but must be refused")
            elif answer.status_code == 422 and "loc" not in answer.text:
                result.problems.append(f"{case}: 422 without naming the field: {answer.text[:160]}")
            return answer

        # oversized, malformed, wrong content
        big = event("oversized")
        big["data"]["memo"] = "m" * (2 * 1024 * 1024)
        refused.append(big["id"])
        await send("oversized body (2 MiB)", big, must_refuse=True)
        for n, raw in enumerate([b"{not json", b"[]", b"null", b'"string"', b"\xff\xfe\x00", b"{" * 10_000]):
            await send(f"malformed body {n}", None, must_refuse=True, raw=raw)
        # wrong types, unknown currencies, negative and huge amounts, invalid time zones...
        for n, (path, value) in enumerate(BAD_VALUES):
            doc = put(event(f"bad{n}"), path, value)
            refused.append(str(doc["id"]) if isinstance(doc["id"], str) else f"evt-hostile-bad{n}")
            await send(f"{'.'.join(map(str, path))}={value!r:.40}", doc, must_refuse=True)
        # hostile text in every text field: refused when it must be, else stored verbatim
        for f, path in enumerate(TEXT_FIELDS):
            for s, text in enumerate(REFUSED_TEXT + ([""] if path[-1] != "memo" else [])):  # memo is optional
                doc = put(event(f"r{f}-{s}"), path, text)
                refused.append(doc["id"])
                await send(f"{'.'.join(map(str, path))}={text!r:.30}", doc, must_refuse=True)
            for s, text in enumerate(INJECTION):
                doc = put(event(f"t{f}-{s}"), path, text)
                answer = await send(f"{'.'.join(map(str, path))}={text!r:.30}", doc, must_refuse=False)
                if answer.status_code == 202:
                    accepted[doc["id"]] = (path, text)
                else:
                    refused.append(doc["id"])
        # staff actions and queries with hostile values
        checks = [
            ("GET", "/v1/invoices?status=' OR 1=1 --", None),
            ("GET", "/v1/invoices?limit=-1", None),
            ("GET", "/v1/invoices?limit=99999999999999999999", None),
            ("GET", "/v1/invoices/%27%3B%20DROP%20TABLE%20invoices%3B--", None),
            ("GET", "/v1/clients?q=%25%27%20OR%201%3D1", None),
            ("POST", "/v1/invoices/INV-0/mark-paid", {"amount_minor": -100}),
            ("POST", "/v1/invoices/INV-0/mark-paid", {"amount_minor": 10**30}),
            ("POST", "/v1/invoices/INV-0/extend-due-date", {"days": "soon"}),
            ("POST", "/v1/invoices/INV-0/void", {"reason": "x" * 20_000}),
            ("GET", "/i/" + "A" * 5000, None),
            ("GET", "/i/..%2F..%2Fetc%2Fpasswd", None),
            ("GET", "/i/%00", None),
            ("GET", "/pay/" + "💸" * 50, None),
            ("POST", "/pay/abc", {"nonce": "zz"}),
            ("POST", "/webhooks/stripe", None),
            ("POST", "/webhooks/sendgrid", None),
        ]
        for method, url, body in checks:
            try:
                answer = await http.request(method, url, json=body)
            except httpx.HTTPError as err:
                answers[type(err).__name__] += 1
                result.problems.append(f"{method} {url[:60]}: connection dropped ({type(err).__name__})")
                continue
            answers[str(answer.status_code)] += 1
            if answer.status_code >= 500:
                result.problems.append(f"{method} {url[:60]}: {answer.status_code} {answer.text[:160]}")
            elif answer.status_code < 400 and method == "POST":
                result.problems.append(f"{method} {url[:60]}: accepted ({answer.status_code})")
        await _domain_holes(stack, http, result, answers)
        await asyncio.sleep(3)  # the accepted events' workflows record their invoices (and their emails)
        await _check_storage(stack, http, refused, accepted, result)
        webhook_cases = await run_webhook_cases(
            http, stack.plain_url, signer, (calcom.name, calcom.secret), answers, result
        )
    result.invoices = len(accepted)
    result.faults = sum(answers.values())
    result.notes.append(
        f"{result.faults} hostile requests; answers " + ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
    )
    result.notes.append(f"{len(refused)} refused events left no row; {len(accepted)} hostile texts stored verbatim")
    result.notes.append(
        f"{webhook_cases} webhook cases (chunked oversized bodies, signed malformed payloads, a stale SendGrid "
        "delivery): none stored"
    )


async def _check_storage(
    stack: ChaosStack,
    http: httpx.AsyncClient,
    refused: list[str],
    accepted: dict[str, tuple[tuple[Any, ...], str]],
    result: ScenarioResult,
) -> None:
    with psycopg.connect(stack.plain_url, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT event_key FROM inbox_events WHERE source = 'booking' AND event_key = ANY(%s)", (refused,)
        ).fetchall()
        result.problems += [f"refused event {r[0]} was stored" for r in stored]
        leaked = conn.execute(
            "SELECT count(*) FROM invoices WHERE source_key LIKE 'booking:api:bk-hostile-bad%%' "
            "OR source_key LIKE 'booking:api:bk-hostile-r%%' OR source_key LIKE 'booking:api:bk-hostile-oversized'"
        ).fetchone()
        if leaked and leaked[0]:
            result.problems.append(f"{leaked[0]} invoices from refused events")
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        if "invoices" not in tables:
            result.problems.append("the invoices table is gone")
        for event_id, (path, text) in accepted.items():
            case = event_id.removeprefix("evt-hostile-")
            row = conn.execute(
                "SELECT i.public_token, i.memo, c.name, l.description FROM invoices i "
                "JOIN clients c ON c.id = i.client_id JOIN invoice_lines l ON l.invoice_id = i.id "
                "WHERE i.source_key = %s",
                (f"booking:api:bk-hostile-{case}",),
            ).fetchone()
            if row is None:
                result.lost += 1
                result.problems.append(f"lost: accepted event {event_id} has no invoice")
                continue
            token, memo, name, description = row
            stored_text = {"memo": memo, "name": name, "description": description}[path[-1]]
            if stored_text != text:
                result.problems.append(f"{event_id}: {path[-1]} stored as {stored_text!r:.60}, sent {text!r:.60}")
            page = await http.get(f"/i/{token}")
            if page.status_code != 200:
                result.problems.append(f"{event_id}: invoice page answered {page.status_code}")
            elif "<script>alert" in page.text or ("{{7*7}}" in text and "49" in page.text.split("{{7*7}}")[0][-5:]):
                result.problems.append(f"{event_id}: hostile text not escaped on the invoice page")


# --- issue 11: overflowing totals, unbounded backfills, non-IANA time zones -------------------------------

OVERFLOW_EVENTS: dict[str, list[dict[str, Any]]] = {
    # 1,000,000 x 10^13 minor units: over 64 bits; used to be accepted (202) and retried forever.
    "overflow-line": [{"description": "All of it", "quantity": 1_000_000, "unit_price_minor": 10**13}],
    # each line under the cap (999,999,999,999 minor units), the invoice total over it
    "overflow-total": [{"description": "Half and a bit", "unit_price_minor": 6 * 10**11}] * 2,
}
NON_IANA_ZONES = ["localtime", "posixrules", "Factory", "/etc/localtime", "posix/Europe/London"]


def _subscription(case: str, **overrides: Any) -> dict[str, Any]:
    return {
        "subscription_id": f"sub-hostile-{case}",
        "client": {"external_id": f"hostile-{case}", "name": "Ada", "email": "ada@example.com", "timezone": "UTC"},
        "lines": [{"description": "Retainer", "unit_price_minor": 1000}],
        "currency": "EUR",
        "interval": {"kind": "weekly"},
        "start_date": "2026-12-01",
        "reminder_policy": {"steps": []},
    } | overrides


async def _domain_holes(
    stack: ChaosStack, http: httpx.AsyncClient, result: ScenarioResult, answers: Counter[str]
) -> None:
    """Each case must be a 422 naming its field, and leave no event, subscription or client behind."""
    cases: list[tuple[str, str, str, dict[str, Any], str]] = []  # (case, url, field, body, client external id)
    for case, services in OVERFLOW_EVENTS.items():
        cases.append(
            (case, "/v1/events", "services", put(event(case), ("data", "services"), services), f"hostile-{case}")
        )
    for n, zone in enumerate(NON_IANA_ZONES):
        case = f"zone{n}"
        doc = put(event(case), ("data", "client", "timezone"), zone)
        cases.append((case, "/v1/events", "timezone", doc, f"hostile-{case}"))
        sub = _subscription(case)
        sub["client"]["timezone"] = zone
        cases.append((f"sub-{case}", "/v1/subscriptions", "timezone", sub, f"hostile-{case}"))
    overflow_sub = _subscription("sub-overflow", lines=OVERFLOW_EVENTS["overflow-line"])
    cases.append(("sub-overflow", "/v1/subscriptions", "lines", overflow_sub, "hostile-sub-overflow"))
    # A weekly plan from 2000 would start about 1,400 invoice workflows at once (a daily one 9,800).
    backfill = _subscription("backfill", start_date="2000-01-01")
    cases.append(("backfill", "/v1/subscriptions", "start_date", backfill, "hostile-backfill"))
    backfill_event = {
        "id": "evt-hostile-backfill",
        "type": "subscription.created",
        "data": _subscription("backfill-event", start_date="2000-01-01") | {"subscription_id": None},
    }
    cases.append(("backfill-event", "/v1/events", "start_date", backfill_event, "hostile-backfill-event"))

    for case, url, field, body, _client in cases:
        answer = await http.post(url, json=body)
        answers[str(answer.status_code)] += 1
        if answer.status_code != 422:
            result.problems.append(f"{case}: {answer.status_code} (expected 422 naming {field}) {answer.text[:160]}")
        elif not any(field in err.get("loc", []) for err in answer.json().get("detail", [])):
            result.problems.append(f"{case}: 422 without naming {field}: {answer.text[:160]}")
    ids = [str(body["id"]) for _, url, _, body, _ in cases if url == "/v1/events"]
    subs = [str(body["subscription_id"]) for _, url, _, body, _ in cases if url == "/v1/subscriptions"]
    clients = [c for *_, c in cases]
    with psycopg.connect(stack.plain_url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 'event ' || event_key FROM inbox_events WHERE source = 'booking' AND event_key = ANY(%s) "
            "UNION ALL SELECT 'subscription ' || id FROM subscriptions WHERE id = ANY(%s) "
            "UNION ALL SELECT 'client ' || external_id FROM clients WHERE external_id = ANY(%s)",
            (ids, subs, clients),
        ).fetchall()
    result.problems += [f"refused input was stored: {row[0]}" for row in found]
    result.notes.append(
        f"issue 11: {len(cases)} overflowing totals, non-IANA zones and unbounded backfills refused (422), "
        f"{len(ids)} events, {len(subs)} subscriptions and {len(clients)} clients not stored"
    )
