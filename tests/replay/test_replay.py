"""Replay recorded runs with today's workflow code: a change that would break in-flight invoices (or
subscriptions) fails.

Two sets: histories/*.json were recorded before payload encryption (clear payloads; runs started then must keep
replaying on encrypting workers), histories/encrypted/*.json since (payloads encrypted with the tests' key).
Regenerate the encrypted set with tests/replay/record_histories.py after an intended change guarded by
workflow.patched(); the clear set is never re-recorded.
"""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from billflow.codec import ENCODING
from tests.codec.support import payloads_in
from tests.conftest import TEST_CONVERTER
from tests.replay.changed_workflow import ChangedInvoiceWorkflow
from tests.replay.record_histories import ENCRYPTED, HISTORIES, SCENARIOS
from tests.replay.record_subscription_histories import SCENARIOS as SUBSCRIPTION_SCENARIOS
from tests.replay.record_subscription_histories import SUBSCRIPTION_HISTORIES
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import SubscriptionWorkflow

# Read at collection time (no blocking file reads inside the event loop).
CLEAR = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}
SEALED = {path.stem: path.read_text() for path in sorted(ENCRYPTED.glob("*.json"))}
# Runs driven by staff Updates (issue 12.3), recorded on the dev server (the time-skipping one has no Updates) by
# `RECORD_UPDATES_HISTORY=tests/replay/histories/updates/staff_updates.json pytest -k replays
# tests/workflows/test_invoice_staff_updates.py`; payloads encrypted with the tests' key.
UPDATES = {path.stem: path.read_text() for path in sorted((HISTORIES / "updates").glob("*.json"))}
# Subscription runs driven by signals, recorded (tests/replay/record_subscription_histories.py) by the code before
# the subscription Updates (issue 12.3): adding the Updates must leave them replaying.
SUBSCRIPTION = {path.stem: path.read_text() for path in sorted(SUBSCRIPTION_HISTORIES.glob("*.json"))}
RECORDED = {**{f"clear-{k}": v for k, v in CLEAR.items()}, **{f"encrypted-{k}": v for k, v in SEALED.items()}}


def test_every_scenario_has_a_recorded_history_in_both_sets() -> None:
    assert set(CLEAR) == set(SCENARIOS)
    assert set(SEALED) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SEALED))
def test_the_encrypted_set_holds_no_clear_payload(name: str) -> None:
    history = WorkflowHistory.from_json(name, SEALED[name])
    first = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert first.metadata["encoding"] == ENCODING
    clear = [p for e in history.events if not e.HasField("marker_recorded_event_attributes") for p in payloads_in(e)]
    assert all(p.metadata.get("encoding") == ENCODING for p in clear)


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_history_replays_without_nondeterminism(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", RECORDED[name])
    replayer = Replayer(workflows=[InvoiceWorkflow], data_converter=TEST_CONVERTER)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.parametrize("name", sorted(UPDATES))
async def test_recorded_run_with_updates_replays_without_nondeterminism(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-updates-{name}", UPDATES[name])
    assert any(e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events)
    replayer = Replayer(workflows=[InvoiceWorkflow], data_converter=TEST_CONVERTER)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


def test_every_subscription_scenario_has_a_recorded_history() -> None:
    assert set(SUBSCRIPTION) == set(SUBSCRIPTION_SCENARIOS)


@pytest.mark.parametrize("name", sorted(SUBSCRIPTION))
async def test_recorded_subscription_run_replays_without_nondeterminism(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-subscription-{name}", SUBSCRIPTION[name])
    replayer = Replayer(workflows=[SubscriptionWorkflow], data_converter=TEST_CONVERTER)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.parametrize("name", ["clear-paid", "encrypted-paid"])
async def test_an_incompatible_change_fails_the_replay(name: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", RECORDED[name])
    replayer = Replayer(workflows=[ChangedInvoiceWorkflow], data_converter=TEST_CONVERTER)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)
