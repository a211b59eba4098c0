"""Replay recorded invoice runs with today's workflow code: a change that would break in-flight invoices fails.

Regenerate the files with tests/replay/record_histories.py after an intended change guarded by
workflow.patched().
"""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.replay.changed_workflow import ChangedInvoiceWorkflow
from tests.replay.record_histories import HISTORIES, SCENARIOS
from workflows.invoice import InvoiceWorkflow

# Read at collection time (no blocking file reads inside the event loop).
RECORDED = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}


def test_every_scenario_has_a_recorded_history() -> None:
    assert set(RECORDED) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_history_replays_without_nondeterminism(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", RECORDED[name])
    replayer = Replayer(workflows=[InvoiceWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


async def test_an_incompatible_change_fails_the_replay() -> None:
    history = WorkflowHistory.from_json("replay-paid", RECORDED["paid"])
    replayer = Replayer(workflows=[ChangedInvoiceWorkflow], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)
