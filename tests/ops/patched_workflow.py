"""The worked example of changing InvoiceWorkflow while invoices are in flight (docs/operations.md).

The change: a short cooling-off period between issuing an invoice and emailing it, so staff can still void a
mistaken one. It adds a timer, a command that histories recorded before the change do not have, so it is
guarded by `workflow.patched`: runs started before the deploy replay the old path (no marker in their history,
`patched` is False), new runs record the marker and take the new path.

In the real code this is a three-line edit inside `InvoiceWorkflow._issue`; it lives in a subclass here so the
example is exercised by tests without changing what production does.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.workflow_io import InvoiceOutcome, InvoiceState, InvoiceWorkflowInput
    from workflows.invoice import InvoiceWorkflow

COOLING_OFF_PATCH = "issued-email-cooling-off"
COOLING_OFF = timedelta(minutes=10)


@workflow.defn(name="InvoiceWorkflow")
class CoolingOffInvoiceWorkflow(InvoiceWorkflow):
    """InvoiceWorkflow with the patched change."""

    @workflow.run
    async def run(self, data: InvoiceWorkflowInput) -> InvoiceOutcome:
        return await super().run(data)

    async def _issue(self, data: InvoiceWorkflowInput) -> InvoiceState:
        state = await super()._issue(data)
        if workflow.patched(COOLING_OFF_PATCH):
            await workflow.sleep(COOLING_OFF, summary="cooling-off before the invoice email")
        return state


@workflow.defn(name="InvoiceWorkflow")
class UnguardedCoolingOffInvoiceWorkflow(InvoiceWorkflow):
    """The same change without the guard: what breaks every invoice in flight."""

    @workflow.run
    async def run(self, data: InvoiceWorkflowInput) -> InvoiceOutcome:
        return await super().run(data)

    async def _issue(self, data: InvoiceWorkflowInput) -> InvoiceState:
        state = await super()._issue(data)
        await workflow.sleep(COOLING_OFF)
        return state
