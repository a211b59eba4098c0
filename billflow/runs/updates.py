"""Staff actions that need an answer, through a run's Update (issue 12, item 3): the invoice's and the
subscription's runs map the run's refusal and its end the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.workflow_io import ACTION_REJECTED


async def execute_answered_update(
    client: Client,
    workflow_id: str,
    update: Any,
    action: Any,
    *,
    refused: Callable[[str], Exception],
    closed: Callable[[], Exception],
) -> Any:
    """Run a staff action's Update (its id the action's, so a retried call is answered from the first, not applied
    twice) and return its answer; `refused(reason)` is raised for the run's refusal, `closed()` once it has ended."""
    try:
        return await client.get_workflow_handle(workflow_id).execute_update(update, action, id=action.action_id)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == ACTION_REJECTED:
            raise refused(cause.message) from err
        raise
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise closed() from err
        raise
