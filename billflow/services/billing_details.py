"""The buyer's billing details on file (issue 14): what the next invoices print in their buyer block. Issued
invoices keep the snapshot they were issued with."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.repositories import timeline as timeline_repo
from billflow.services.clients import AmbiguousClient, ClientNotFound, require_client
from models.columns import utcnow
from models.documents import check_country, check_vat_id
from models.enums import BuyerKind

__all__ = ["AmbiguousClient", "BillingDetails", "BillingView", "ClientNotFound", "update_billing"]


class BillingDetails(BaseModel):
    """Fields left out stay as they are; an empty string clears an optional one."""

    kind: BuyerKind | None = None
    address_line1: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00]*$")
    postcode: str | None = Field(default=None, max_length=20, pattern=r"^[^\x00]*$")
    city: str | None = Field(default=None, max_length=100, pattern=r"^[^\x00]*$")
    country: Annotated[str, AfterValidator(lambda v: check_country(v) if v else v)] | None = None
    vat_id: Annotated[str, AfterValidator(lambda v: check_vat_id(v) if v else v)] | None = None


class BillingView(BaseModel):
    external_id: str
    name: str
    kind: BuyerKind
    address_line1: str | None
    postcode: str | None
    city: str | None
    country: str | None
    vat_id: str | None


async def update_billing(
    session: AsyncSession,
    *,
    external_id: str,
    change: BillingDetails,
    actor: str = "staff",
    source: str | None = None,
    workspace_id: int | None = None,
) -> BillingView:
    """`source` is needed only when several sources use the external id (AmbiguousClient otherwise);
    `workspace_id`: only that workspace's client (an API key's)."""
    client = await require_client(session, external_id, source=source, workspace_id=workspace_id)
    for name, value in change.model_dump(exclude_unset=True).items():
        setattr(client, name, (value or None) if name != "kind" else (value or client.kind))
    client.updated_at = utcnow()
    session.add(client)
    assert client.id is not None
    await timeline_repo.add_event(
        session,
        client_id=client.id,
        kind="client.billing_updated",
        message=f"Billing details updated by {actor}: {', '.join(sorted(change.model_fields_set)) or 'nothing'}",
        data=change.model_dump(mode="json", exclude_unset=True),
    )
    await session.flush()
    return BillingView(
        external_id=client.external_id,
        name=client.name,
        kind=BuyerKind(client.kind),
        address_line1=client.address_line1,
        postcode=client.postcode,
        city=client.city,
        country=client.country,
        vat_id=client.vat_id,
    )
