"""A data error in an activity ends the run visibly (issue 11, item 3): the workflow fails, it does not retry
the same refused write forever."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from models.workflow_io import LineIn
from tests.workflows.support import booking, start


async def test_a_workflow_whose_invoice_cannot_be_stored_fails_instead_of_retrying(
    time_env: WorkflowEnvironment, worker: Worker, db: Database, task_queue: str
) -> None:
    # NUL cannot be stored in PostgreSQL text: no retry can ever write this line.
    data = booking(lines=[LineIn(description="bad\x00line", unit_price_minor=100)])
    handle = await start(time_env.client, data, task_queue)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    causes = []
    cause: BaseException | None = failed.value
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    refused = [c for c in causes if isinstance(c, ApplicationError) and c.type == "DataError"]
    assert refused and refused[0].non_retryable, causes
    assert "NUL" in str(refused[0])
