"""Payment webhook to `paid` in PostgreSQL, at a stated rate, with the worker running or stopped (issue 12).

    .venv/bin/python bench/payments.py --rate 50 --seconds 30 --worker running
    .venv/bin/python bench/payments.py --rate 50 --seconds 30 --worker stopped

Issues rate x seconds invoices through their workflows (dev server, one worker process), then delivers one signed
Stripe `checkout.session.completed` webhook per invoice at `rate` per second to the web app (its own process,
uvicorn). Printed per webhook: the answer's latency (200 received) and the commit's (the invoice's `updated_at`,
written in the request's transaction, minus the instant the webhook was sent), p50/p99/max; 5xx and
non-paid answers are counted. Then how long the outbox relay took to tell every run (with the worker stopped: from
its restart), and how many runs ended paid with one receipt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.synchronize
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import stripe
from sqlalchemy import make_url
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lifecycle import booking
from bench.support import fresh_database
from billflow.codec import KeyRing, encrypted_data_converter, generate_key
from billflow.config import Settings
from billflow.services import invoice_runs
from billflow.temporal import DEV_SERVER_SQLITE_FLAGS
from workflows.search_attributes import ALL_KEYS

SECRET = "whsec_bench_payments"


def _settings(database_url: str, address: str, task_queue: str, key: str, **extra: Any) -> Settings:
    values = {
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": address,
        "BILLFLOW_TASK_QUEUE": task_queue,
        "BILLFLOW_CODEC_KEYS": json.dumps({"bench": key}),
    }
    return Settings(**(values | extra))  # type: ignore[arg-type]


def worker_process(database_url: str, address: str, task_queue: str, key: str, ready: Any) -> None:
    asyncio.run(_worker_main(database_url, address, task_queue, key, ready))


async def _worker_main(database_url: str, address: str, task_queue: str, key: str, ready: Any) -> None:
    from billflow.db import Database
    from billflow.temporal import connect
    from worker import build_worker

    settings = _settings(database_url, address, task_queue, key)
    db = Database(database_url, pool_size=10)
    client = await connect(settings)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with build_worker(client, db, settings):  # with the outbox relay beside it
        ready.set()
        await stop.wait()
    await db.dispose()


def api_process(database_url: str, address: str, task_queue: str, key: str, port: int) -> None:
    import uvicorn

    asyncio.run(_api_main(database_url, address, task_queue, key, port, uvicorn))


async def _api_main(database_url: str, address: str, task_queue: str, key: str, port: int, uvicorn: Any) -> None:
    from billflow.db import Database
    from billflow.temporal import connect
    from billflow.web.app import create_app

    settings = _settings(
        database_url,
        address,
        task_queue,
        key,
        BILLFLOW_PAYMENT_BACKEND="stripe",
        STRIPE_API_KEY="sk_test_bench",
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_API_BASE="http://127.0.0.1:9",  # never called: the webhook carries the session
    )
    db = Database(database_url, pool_size=10)
    app = create_app(settings, db, await connect(settings))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    await uvicorn.Server(config).serve()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _event(invoice_id: int, total: int, index: int, run_id: str) -> bytes:
    session_id = f"cs_bench_{run_id}_{index}"
    obj = {
        "id": session_id,
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": total,
        "currency": "gbp",
        "payment_intent": f"pi_bench_{run_id}_{index}",
        "metadata": {"billflow_invoice_id": str(invoice_id)},
    }
    event = {
        "id": f"evt_bench_{run_id}_{index}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


async def _count(conn: psycopg.AsyncConnection, sql: str, ids: list[str]) -> int:
    row = await (await conn.execute(sql, (ids,))).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main(rate: float, seconds: float, worker_mode: str, concurrency: int) -> None:
    from billflow.db import Database

    count = int(rate * seconds)
    database_url, _admin = fresh_database()
    db = Database(database_url)
    await db.create_schema()
    await db.dispose()
    key = generate_key()
    run_id = uuid.uuid4().hex[:6]
    task_queue = f"bench-pay-{run_id}"
    sa_url = make_url(database_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    plain_url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    temporal_cli = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        env = await WorkflowEnvironment.start_local(
            data_converter=encrypted_data_converter(KeyRing.from_config({"bench": key})),
            dev_server_existing_path=temporal_cli,
            dev_server_database_filename=str(Path(tmp) / "temporal.sqlite"),
            search_attributes=ALL_KEYS,
            dev_server_extra_args=DEV_SERVER_SQLITE_FLAGS,
        )
        address = env.client.service_client.config.target_host
        port = _free_port()
        ready = ctx.Event()
        worker = ctx.Process(target=worker_process, args=(sa_url, address, task_queue, key, ready), daemon=True)
        worker.start()
        api = ctx.Process(target=api_process, args=(sa_url, address, task_queue, key, port), daemon=True)
        api.start()
        try:
            await asyncio.to_thread(ready.wait, 60)
            # 1. the invoices, through their workflows, each issued and emailed
            bookings = [booking(run_id, i) for i in range(count)]
            limit = asyncio.Semaphore(concurrency)

            async def start(b: Any) -> None:
                async with limit:
                    await invoice_runs.start_invoice(env.client, b, task_queue=task_queue)

            began = time.perf_counter()
            await asyncio.gather(*(start(b) for b in bookings))
            ids = [b.workflow_id for b in bookings]
            async with await psycopg.AsyncConnection.connect(plain_url, autocommit=True) as conn:
                rows: list[Any] = []
                while len(rows) < count:
                    rows = await (
                        await conn.execute(
                            "SELECT i.workflow_id, i.id, i.total_minor FROM invoices i JOIN email_messages m "
                            "ON m.invoice_id = i.id AND m.kind = 'invoice_issued' AND m.status = 'sent' "
                            "WHERE i.workflow_id = ANY(%s)",
                            (ids,),
                        )
                    ).fetchall()
                    await asyncio.sleep(0.2)
                print(f"{count} invoices issued and emailed in {time.perf_counter() - began:.1f} s")
                invoices = {w: (i, t) for w, i, t in rows}
                if worker_mode == "stopped":
                    worker.terminate()
                    worker.join(30)
                    print("worker stopped")
                # 2. the webhooks, paced
                answers: list[float] = []
                sent: dict[int, datetime] = {}
                errors = {"5xx": 0, "other": 0, "not_paid": 0}
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                    for _ in range(100):  # the app is up
                        try:
                            await http.get("/healthz")
                            break
                        except httpx.TransportError:
                            await asyncio.sleep(0.1)

                    async def pay(index: int, workflow_id: str) -> None:
                        invoice_id, total = invoices[workflow_id]
                        body = _event(invoice_id, total, index, run_id)
                        header = stripe.WebhookSignature.generate_signature_header(
                            body.decode(), SECRET, timestamp=int(time.time())
                        )
                        t0 = time.perf_counter()
                        sent[invoice_id] = datetime.now(UTC)
                        response = await http.post(
                            "/webhooks/stripe",
                            content=body,
                            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
                        )
                        answers.append((time.perf_counter() - t0) * 1000)
                        if response.status_code >= 500:
                            errors["5xx"] += 1
                        elif response.status_code != 200:
                            errors["other"] += 1
                        elif response.json().get("outcome") != "paid":
                            errors["not_paid"] += 1

                    began = time.perf_counter()
                    tasks = []
                    for index, workflow_id in enumerate(ids):
                        await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
                        tasks.append(asyncio.create_task(pay(index, workflow_id)))
                    await asyncio.gather(*tasks)
                    offered = count / (time.perf_counter() - began)
                committed = await (
                    await conn.execute(
                        "SELECT id, updated_at FROM invoices WHERE status = 'paid' AND workflow_id = ANY(%s)", (ids,)
                    )
                ).fetchall()
                commits = [(at - sent[i]).total_seconds() * 1000 for i, at in committed if i in sent]
                # 3. the runs told (the relay), and settled
                if worker_mode == "stopped":
                    ready = ctx.Event()
                    worker = ctx.Process(
                        target=worker_process, args=(sa_url, address, task_queue, key, ready), daemon=True
                    )
                    worker.start()
                    await asyncio.to_thread(ready.wait, 60)
                    print("worker restarted")
                relay_began = time.perf_counter()
                pending = count
                while pending and time.perf_counter() - relay_began < 300:
                    pending = await _count(
                        conn,
                        "SELECT count(*) FROM run_outbox WHERE delivered_at IS NULL AND workflow_id = ANY(%s)",
                        ids,
                    )
                    await asyncio.sleep(0.2)
                relayed_in = time.perf_counter() - relay_began
                settled_began = time.perf_counter()
                receipts = 0
                while receipts < count and time.perf_counter() - settled_began < 300:
                    receipts = await _count(
                        conn,
                        "SELECT count(*) FROM email_messages m JOIN invoices i ON i.id = m.invoice_id "
                        "WHERE m.kind = 'receipt' AND i.workflow_id = ANY(%s)",
                        ids,
                    )
                    await asyncio.sleep(0.5)
                payments = await _count(
                    conn,
                    "SELECT count(*) FROM payments p JOIN invoices i ON i.id = p.invoice_id "
                    "WHERE i.workflow_id = ANY(%s)",
                    ids,
                )
        finally:
            for proc in (worker, api):
                if proc.is_alive():
                    proc.terminate()
                    proc.join(15)
            await env.shutdown()

    print(f"\nworker {worker_mode}: {count} webhooks offered at {rate:.0f}/s (achieved {offered:.1f}/s)")
    print(
        f"  answer (200) ms:      p50 {_pct(answers, 0.5):7.1f}  p99 {_pct(answers, 0.99):7.1f}  "
        f"max {max(answers):7.1f}  mean {statistics.fmean(answers):6.1f}"
    )
    print(
        f"  paid in PostgreSQL ms: p50 {_pct(commits, 0.5):7.1f}  p99 {_pct(commits, 0.99):7.1f}  "
        f"max {max(commits, default=float('nan')):7.1f}  ({len(commits)}/{count} paid)"
    )
    print(f"  5xx {errors['5xx']}, other non-200 {errors['other']}, answered but not paid {errors['not_paid']}")
    print(
        f"  outbox: every run told {relayed_in:.1f} s after the last webhook"
        + (" (from the worker's restart)" if worker_mode == "stopped" else "")
        + f"; {pending} undelivered; receipts {receipts}/{count}; payment rows {payments} (duplicates "
        f"{payments - count})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="webhooks per second (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the webhooks are offered (default 30)")
    parser.add_argument("--worker", choices=["running", "stopped"], default="running")
    parser.add_argument("--concurrency", type=int, default=20, help="invoice starts in flight (default 20)")
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds, args.worker, args.concurrency))
