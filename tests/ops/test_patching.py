"""Worked example: a change to InvoiceWorkflow guarded by workflow.patched. Histories recorded before the change
(tests/replay/histories) still replay; a new run takes the new path and records the patch marker."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker
from temporalio.workflow import NondeterminismError

from billflow.config import Settings
from billflow.db import Database
from billflow.services.invoice_runs import start_invoice
from models.enums import InvoiceStatus
from models.workflow_io import MarkPaid
from tests.conftest import TEST_CONVERTER
from tests.factories import make_booking
from tests.ops.patched_workflow import COOLING_OFF_PATCH, CoolingOffInvoiceWorkflow, UnguardedCoolingOffInvoiceWorkflow
from worker import SANDBOX, build_activities
from workflows.invoice import InvoiceWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "replay" / "histories"
# Read at collection time (no blocking file reads inside the event loop).
RECORDED = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}


def _replayer(workflow: type) -> Replayer:
    return Replayer(workflows=[workflow], data_converter=TEST_CONVERTER, workflow_runner=SANDBOX)


@pytest.mark.skipif(not RECORDED, reason="no recorded histories in tests/replay/histories")
@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_runs_started_before_the_change_replay_the_old_path(name: str) -> None:
    history = WorkflowHistory.from_json(f"before-{name}", RECORDED[name])
    result = await _replayer(CoolingOffInvoiceWorkflow).replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.skipif("paid" not in RECORDED, reason="no recorded 'paid' history")
async def test_the_same_change_without_the_guard_breaks_them() -> None:
    history = WorkflowHistory.from_json("before-paid", RECORDED["paid"])
    with pytest.raises(NondeterminismError):
        await _replayer(UnguardedCoolingOffInvoiceWorkflow).replay_workflow(history)


async def test_a_new_run_takes_the_new_path(
    time_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[CoolingOffInvoiceWorkflow],
        activities=build_activities(db, settings),
        workflow_runner=SANDBOX,
    ):
        handle = await start_invoice(time_env.client, make_booking(), task_queue=task_queue)
        await handle.signal(InvoiceWorkflow.mark_paid, MarkPaid())
        outcome = await handle.result()
        history = await handle.fetch_history()

    assert outcome.status is InvoiceStatus.paid
    events = list(history.events)
    markers = [e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    patches = [
        m.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
        for m in markers
        if m.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    # A new run records each patch it passes once (the cooling-off one among them, e.g. beside the workspace one).
    assert len([p for p in patches if COOLING_OFF_PATCH.encode() in p]) == 1
    timers = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert any(t.timer_started_event_attributes.start_to_fire_timeout.seconds == 600 for t in timers)

    # And the new history replays with the patched code, as the next deploy's replay test will check.
    assert (await _replayer(CoolingOffInvoiceWorkflow).replay_workflow(history)).replay_failure is None
