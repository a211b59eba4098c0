"""Documents tests: a seller profile in the settings, a worker with it, and booking factories for B2B invoices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from models.invoices import Invoice
from models.workflow_io import BookingIn, LineIn
from tests.factories import make_booking, make_client
from worker import build_worker

SELLER_VAT_ID = "DE136695976"
BUYER_VAT_ID = "FR40303265045"
IBAN = "DE89370400440532013000"
BIC = "COBADEFFXXX"


@pytest.fixture
def doc_settings(settings: Settings) -> Settings:
    return Settings(
        DATABASE_URL=settings.database_url,
        BILLFLOW_DATA_DIR=settings.data_dir,
        BILLFLOW_PUBLIC_URL="http://billflow.test",
        BILLFLOW_BUSINESS_NAME="Atelier Nord",
        BILLFLOW_BUSINESS_LEGAL_NAME="Atelier Nord GmbH",
        BILLFLOW_BUSINESS_ADDRESS_LINE1="Hauptstrasse 1",
        BILLFLOW_BUSINESS_POSTCODE="10115",
        BILLFLOW_BUSINESS_CITY="Berlin",
        BILLFLOW_BUSINESS_COUNTRY="de",
        BILLFLOW_BUSINESS_VAT_ID="DE 136 695 976",
        BILLFLOW_BUSINESS_REGISTRATION="HRB 12345 B",
        BILLFLOW_BUSINESS_IBAN="DE89 3704 0044 0532 0130 00",
        BILLFLOW_BUSINESS_BIC="COBADEFFXXX",
    )


@pytest.fixture(autouse=True)
async def doc_workspace(db: Database) -> AsyncIterator[None]:
    """Workspace 1 (the seller of new invoices) holds the same business as `doc_settings`; put back after."""
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate
    from tests.app.support import workspace_profile_kept

    seller = WorkspaceUpdate(
        name="Atelier Nord",
        legal_name="Atelier Nord GmbH",
        address_line1="Hauptstrasse 1",
        postcode="10115",
        city="Berlin",
        country="DE",
        vat_id=SELLER_VAT_ID,
        registration="HRB 12345 B",
        iban=IBAN,
        bic=BIC,
    )
    async with workspace_profile_kept(db):
        await workspaces.update_workspace(db, 1, seller)
        yield


@pytest.fixture
async def doc_worker(
    time_env: WorkflowEnvironment, db: Database, doc_settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(time_env.client, db, doc_settings, task_queue=task_queue) as running:
        yield running


def business_booking(**overrides: Any) -> BookingIn:
    """A booking for a French business client: 2 x 150.00 at 20 % and 25.00 zero-rated."""
    client = make_client(
        kind="business",
        address_line1="12 rue de la Paix",
        postcode="75002",
        city="Paris",
        country="FR",
        vat_id=BUYER_VAT_ID,
    )
    values: dict[str, Any] = {
        "client": client,
        "lines": [
            LineIn(description="Strategy session", quantity=2, unit_price_minor=15_000, tax_rate_bp=2000),
            LineIn(description="Travel", unit_price_minor=2_500),
        ],
        "currency": "EUR",
    }
    return make_booking(**(values | overrides))


async def issue_directly(db: Database, settings: Settings, booking: BookingIn | None = None) -> Invoice:
    """Issue an invoice in the database (no workflow), as the record_invoice activity does."""
    from billflow.services import invoicing
    from billflow.services.business_profile import current_business_profile

    booking = booking or business_booking()
    booking = booking.model_copy(update={"issued_at": datetime.now(UTC)})
    async with db.session() as session:
        return await invoicing.issue_invoice(
            session, booking=booking, workflow_id=booking.workflow_id, profile=current_business_profile(settings)
        )
