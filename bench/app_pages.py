"""Benchmark: the staff app's pages, server time, on 1,000,000 invoices over 50,000 clients.

    python bench/app_pages.py [--database billflow_bench_pages] [--runs 20] [--only LABEL] [--trace]

Fills a database of its own with bench/reports.py's data set (generate_series in SQL; about ten minutes for 1M
invoices on two cores), kept: later runs find it filled and reuse it. Then it signs an admin in and requests each
page through the ASGI app in process (no network, no browser), so the time measured is the server's: routing,
session, queries, template. Prints p50 and p99 per page. Target (issue 15): every page under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import reports as report_bench
from billflow.db import Database, start_embedded_postgres, to_psycopg_url

console = Console()
TARGET_MS = 300.0


def bench_database(name: str) -> str:
    """The url of `name` on DATABASE_URL's server (or the embedded one), created when missing."""
    base = os.environ.get("DATABASE_URL")
    server = make_url(to_psycopg_url(base) if base else start_embedded_postgres(Path(".billflow")))
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


async def seed(url: str, *, invoices: int, clients: int) -> None:
    db = Database(url, pool_size=2)
    try:
        await db.create_schema()
        if (await report_bench.counts(db))["invoices"] == 0:
            console.print(f"Filling with {invoices:,} invoices over {clients:,} clients ...")
            started = time.perf_counter()
            await report_bench.fill(db, invoices=invoices, clients=clients)
            console.print(f"  filled in {time.perf_counter() - started:.1f} s")
        console.print(await report_bench.counts(db))
    finally:
        await db.dispose()


# (label, path): what staff open most, on the seeded data set (client ids bench-1 .. bench-50000).
PAGES = [
    ("overview", "/app"),
    ("invoices: newest first", "/app/invoices"),
    ("invoices: overdue, by due date", "/app/invoices?status=overdue&sort=due"),
    ("invoices: open + partly paid, largest first", "/app/invoices?status=open&status=partially_paid&sort=total_desc"),
    ("invoices: USD due in a 90-day range", "/app/invoices?currency=USD&due_from={d90}&due_to={today}"),
    ("invoices: overdue 30+ days", "/app/invoices?overdue_days=30"),
    ("invoices: search a client name", "/app/invoices?q=Client+4242"),
    ("invoices: search a number", "/app/invoices?q=B-777777"),
    ("clients with balances", "/app/clients"),
    ("clients: search", "/app/clients?q=Client+4242"),
    ("client detail", "/app/clients/bench-4242"),
    ("reports: aging", "/app/reports"),
    ("reports: cash by month", "/app/reports?kind=cash&grain=month"),
    ("reports: cash by day", "/app/reports?kind=cash&grain=day&start={d30}&end={today}"),
    ("reports: DSO", "/app/reports?kind=dso"),
    ("reports: top overdue", "/app/reports?kind=top-overdue"),
    ("reports: effectiveness", "/app/reports?kind=effectiveness"),
    ("settings: business profile", "/app/settings/profile"),
    ("settings: integrations", "/app/settings/integrations"),
    ("settings: catalog", "/app/settings/catalog"),
    ("settings: API keys", "/app/settings/api-keys"),
    ("settings: users", "/app/settings/users"),
    ("settings: reminder policy", "/app/settings"),
    ("subscriptions list", "/app/subscriptions"),
    # Server time without the live workflow query: see _QueryUnanswered.
    ("invoice detail (no Temporal query)", "/app/invoices/B-77779"),
]


class _QueryUnanswered:
    """The Temporal client the invoice page gets here: its status query fails at once, as when the server is
    unreachable, and the page answers without the live state (invoice_views.detail suppresses RPCError). So the
    figure is the page's own server time; the query's round trip to Temporal comes on top of it."""

    def get_workflow_handle(self, workflow_id: str) -> _QueryUnanswered:
        return self

    async def query(self, *args: Any, **kwargs: Any) -> None:
        from temporalio.service import RPCError, RPCStatusCode

        raise RPCError("not measured: no Temporal in this bench", RPCStatusCode.UNAVAILABLE, b"")


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def trace_statements(db: Database) -> list[tuple[float, str]]:
    """Record (ms, SQL) of every statement the pages run (--trace: which query a slow page waits on)."""
    from sqlalchemy import event

    log: list[tuple[float, str]] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("started", []).append(time.perf_counter())

    @event.listens_for(db.engine.sync_engine, "after_cursor_execute")
    def _end(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        log.append(((time.perf_counter() - conn.info["started"].pop()) * 1000, " ".join(statement.split())[:300]))

    return log


async def time_pages(
    url: str, *, runs: int, only: str | None, trace: bool = False
) -> list[tuple[str, int, float, float]]:
    import httpx

    from billflow.config import Settings
    from billflow.services import users
    from billflow.web.app import create_app
    from models.api_keys import ApiRole
    from tests.app.support import PASSWORD, sign_in

    settings = Settings(DATABASE_URL=url, BILLFLOW_SECRET_KEY="b" * 32)  # type: ignore[call-arg]
    db = Database(url, pool_size=4)
    today = date.today()
    fill = {"today": today.isoformat(), "d30": (today - timedelta(days=30)).isoformat()}
    fill["d90"] = (today - timedelta(days=90)).isoformat()
    results = []
    log = trace_statements(db) if trace else None
    try:
        email = "bench-admin@example.com"
        if not any(u.email == email for u in await users.list_users(db)):
            await users.create_user(db, users.NewUser(email=email, role=ApiRole.admin), password=PASSWORD)
        # Not a real Client: see _QueryUnanswered.
        app = create_app(settings, db, _QueryUnanswered())  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as http:
            await sign_in(http, email)
            for label, path in PAGES:
                if only and only not in label:
                    continue
                target = path.format(**fill)
                samples = []
                for attempt in range(runs + 1):
                    started = time.perf_counter()
                    answer = await http.get(target)
                    elapsed = (time.perf_counter() - started) * 1000
                    if answer.status_code != 200:
                        raise SystemExit(f"{target}: {answer.status_code} {answer.text[:300]}")
                    if attempt:  # the first request warms the connection, caches and templates
                        samples.append(elapsed)
                results.append((label, answer.status_code, statistics.median(samples), _percentile(samples, 0.99)))
                if log is not None:  # the last request's statements, slowest first
                    for ms, sql in sorted(log[-60:], reverse=True)[:4]:
                        console.print(f"  {label}: {ms:7.1f} ms  {sql}", markup=False, highlight=False)
                    log.clear()
    finally:
        await db.dispose()
    return results


async def main(url: str, *, invoices: int, clients: int, runs: int, only: str | None, trace: bool) -> None:
    await seed(url, invoices=invoices, clients=clients)
    table = Table(title=f"Staff app pages, server time ({runs} requests each after a warm-up; target < 300 ms)")
    for name, justify in (("page", "left"), ("p50 ms", "right"), ("p99 ms", "right"), ("", "center")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for label, _, p50, p99 in await time_pages(url, runs=runs, only=only, trace=trace):
        verdict = "[green]ok[/]" if p99 < TARGET_MS else "[red]over[/]"
        table.add_row(label, f"{p50:.1f}", f"{p99:.1f}", verdict)
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="billflow_bench_pages")
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page (after one warm-up)")
    parser.add_argument("--only", help="time only the pages whose label contains this")
    parser.add_argument("--trace", action="store_true", help="print each page's slowest SQL statements")
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()
    target = bench_database(args.database)
    if args.seed_only:
        asyncio.run(seed(target, invoices=args.invoices, clients=args.clients))
    else:
        asyncio.run(
            main(target, invoices=args.invoices, clients=args.clients, runs=args.runs, only=args.only, trace=args.trace)
        )
