"""Record the histories the replay test guards: one representative invoice run per JSON file.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres PATH=.venv/bin:$PATH \
        .venv/bin/python -m tests.replay.record_histories

Runs each scenario on the time-skipping server with the real worker on a scratch database (created and dropped
here; the embedded server when DATABASE_URL is unset), then writes tests/replay/histories/encrypted/<scenario>.json,
its payloads encrypted with the tests' key (tests/conftest.py, TEST_CODEC_KEYS). Re-record after an intended,
patched change to the workflow, and commit the files.

tests/replay/histories/<scenario>.json were recorded before payload encryption (issue 17): never re-recorded,
they stand for the runs started in clear that an encrypting worker must still replay.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import psycopg
from sqlalchemy import make_url
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database, start_embedded_postgres, to_psycopg_url
from billflow.temporal import ensure_search_attributes
from models.workflow_io import ExtendDueDate, PauseReminders, ResumeReminders, VoidInvoice, WriteOff
from tests.conftest import TEST_CONVERTER, bundled_binary
from tests.factories import make_booking, make_client
from tests.workflows.support import DAY, days_policy, issued, payment, skip_to, start, until
from worker import build_worker
from workflows.invoice import InvoiceWorkflow

HISTORIES = Path(__file__).parent / "histories"  # before encryption: clear payloads, kept as recorded
ENCRYPTED = HISTORIES / "encrypted"  # what record_all writes
Scenario = Callable[[WorkflowEnvironment, WorkflowHandle], Awaitable[None]]


async def paid(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    state = await issued(handle)
    await skip_to(env, state.due_at - DAY)  # after the first reminder
    await until(handle, lambda s: s.steps_sent == 1)
    await handle.signal(InvoiceWorkflow.payment_received, payment(reference="replay-paid"))


async def overdue_escalated(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    state = await issued(handle)
    await skip_to(env, state.due_at + 5 * DAY)
    await until(handle, lambda s: s.escalated)
    await handle.signal(InvoiceWorkflow.write_off, WriteOff(action_id="replay-write-off", reason="unreachable"))


async def paused_resumed(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    state = await issued(handle)
    await handle.signal(InvoiceWorkflow.pause_reminders, PauseReminders(action_id="replay-pause"))
    await skip_to(env, state.due_at - DAY)
    await until(handle, lambda s: s.reminders[0].skipped)
    await handle.signal(InvoiceWorkflow.resume_reminders, ResumeReminders(action_id="replay-resume"))
    await handle.signal(
        InvoiceWorkflow.pause_reminders, PauseReminders(action_id="replay-pause-until", until=state.due_at)
    )
    await skip_to(env, state.due_at + DAY)
    await until(handle, lambda s: s.steps_sent == 0 and not s.paused)
    await handle.signal(InvoiceWorkflow.payment_received, payment(reference="replay-paused"))


async def extended(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    state = await issued(handle)
    await skip_to(env, state.due_at + DAY)
    await until(handle, lambda s: s.status == "overdue")
    extend = ExtendDueDate(action_id="replay-extend", extend_by=timedelta(days=7))
    await handle.signal(InvoiceWorkflow.extend_due_date, extend)
    await until(handle, lambda s: s.status == "open")
    await handle.signal(InvoiceWorkflow.payment_received, payment(10_000, reference="replay-partial"))
    await handle.signal(InvoiceWorkflow.extend_due_date, extend)  # the same action id again: applied once
    await skip_to(env, state.due_at + 9 * DAY)
    await until(handle, lambda s: s.status == "overdue")
    await handle.signal(InvoiceWorkflow.payment_received, payment(28_500, reference="replay-rest"))


async def voided(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    await issued(handle)
    await handle.signal(InvoiceWorkflow.resume_reminders, ResumeReminders(action_id="replay-rejected"))
    await handle.signal(InvoiceWorkflow.void, VoidInvoice(action_id="replay-void", reason="booking cancelled"))


SCENARIOS: dict[str, Scenario] = {
    "paid": paid,
    "overdue_escalated": overdue_escalated,
    "paused_resumed": paused_resumed,
    "extended": extended,
    "voided": voided,
}


async def record_all(db: Database, settings: Settings) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_CONVERTER, test_server_existing_path=bundled_binary("temporal-test-server")
    )
    try:
        await ensure_search_attributes(env.client)
        task_queue = f"record-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, db, settings, task_queue=task_queue):
            for name, scenario in SCENARIOS.items():
                booking = make_booking(
                    booking_id=f"replay-{name}-{uuid.uuid4().hex[:6]}",
                    client=make_client(timezone="Europe/Berlin"),
                    reminder_policy=days_policy(-3, 3),
                    payment_terms=timedelta(days=10),
                )
                handle = await start(env.client, booking, task_queue)
                await scenario(env, handle)
                await handle.result()
                history = await handle.fetch_history()
                compact = json.dumps(json.loads(history.to_json()), separators=(",", ":"))
                (ENCRYPTED / f"{name}.json").write_text(compact + "\n")
                print(f"{name}: {len(history.events)} events")
    finally:
        await env.shutdown()


async def with_scratch_database(record: Callable[[Database, Settings], Awaitable[None]]) -> None:
    """Run `record` against a database created for it and dropped afterwards."""
    with TemporaryDirectory() as scratch:
        url = os.environ.get("DATABASE_URL") or start_embedded_postgres(Path(scratch))
        server = make_url(to_psycopg_url(url))
        name = f"billflow_record_{uuid.uuid4().hex[:8]}"
        admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database_url = server.set(database=name).render_as_string(hide_password=False)
        db = Database(database_url)
        try:
            await db.create_schema()
            settings = Settings(
                DATABASE_URL=database_url, BILLFLOW_DATA_DIR=Path(scratch), BILLFLOW_PUBLIC_URL="http://billflow.test"
            )
            await record(db, settings)
        finally:
            await db.dispose()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    ENCRYPTED.mkdir(parents=True, exist_ok=True)
    await with_scratch_database(record_all)


if __name__ == "__main__":
    asyncio.run(main())
