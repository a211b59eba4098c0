"""The chaos suite's worker process: billflow's workflows and activities, with ledgered providers.

Configured by the environment (billflow's Settings, plus CHAOS_LEDGER, CHAOS_FAULT_RATE). It exits non-zero
when it loses its servers for good; the scenario's supervisor restarts it, as an orchestrator would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from activities.email import EmailActivities
from activities.payments import PaymentActivities
from bench.chaos.ledger import FaultDice, Ledger, LedgerEmailSender, LedgerPaymentProvider
from billflow.config import Settings
from billflow.db import Database
from billflow.email import build_email_sender
from billflow.payments import build_payment_provider
from billflow.runs.outbox_relay import OutboxRelay
from billflow.temporal import connect
from worker import SANDBOX, WORKFLOWS, RelayingWorker, build_activities, ensure_schedules


async def main() -> None:
    settings = Settings()
    assert settings.database_url, "the chaos worker needs DATABASE_URL"
    ledger = Ledger(Path(os.environ["CHAOS_LEDGER"]))
    dice = FaultDice(float(os.environ.get("CHAOS_FAULT_RATE", "0")), seed=os.getpid())
    db = Database(settings.database_url, pool_size=10)
    client = await connect(settings)
    payments = PaymentActivities(db, LedgerPaymentProvider(build_payment_provider(settings), ledger, dice))
    email = EmailActivities(db, LedgerEmailSender(build_email_sender(settings), ledger, dice), settings)
    wrapped = {
        "create_payment_link": payments.create_payment_link,
        "send_invoice_email": email.send_invoice_email,
        "resend_unsettled_emails": email.resend_unsettled_emails,
    }
    # billflow's own activity list, with the two provider-facing activities swapped for ledgered ones
    activities = [wrapped.get(a.__name__, a) for a in build_activities(db, settings)]
    worker = RelayingWorker(  # with the outbox relay, as billflow's own worker
        client,
        relay=OutboxRelay(db, client),
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        workflow_runner=SANDBOX,
        activities=activities,
        max_concurrent_activities=100,
        max_concurrent_local_activities=100,
    )
    await ensure_schedules(client, settings)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    run = asyncio.create_task(worker.run())
    await asyncio.wait([run, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    if not run.done():
        await worker.shutdown()
    try:
        # A worker that died on its own exits non-zero; after a stop, the outbox relay ends its round first
        # (shutdown() returns before the run does), so the pool is closed only after it.
        await run
    finally:
        await db.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())
