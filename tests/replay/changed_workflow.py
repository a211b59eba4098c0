"""A deliberately incompatible InvoiceWorkflow (an extra timer before issuing), to prove the replay test bites."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.workflow_io import InvoiceOutcome, InvoiceState, InvoiceWorkflowInput
    from workflows.invoice import InvoiceWorkflow


@workflow.defn(name="InvoiceWorkflow")
class ChangedInvoiceWorkflow(InvoiceWorkflow):
    @workflow.run
    async def run(self, data: InvoiceWorkflowInput) -> InvoiceOutcome:
        return await super().run(data)

    async def _issue(self, data: InvoiceWorkflowInput) -> InvoiceState:
        await workflow.sleep(timedelta(seconds=1))  # a new command where history has none
        return await super()._issue(data)
