"""Which document format a client receives (PDF, Factur-X, XRechnung, Peppol UBL) and its buyer reference."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.services.clients import require_client
from models.columns import utcnow
from models.einvoice import DocumentFormat


class DocumentSettings(BaseModel):
    external_id: str
    einvoice_format: DocumentFormat
    buyer_reference: str | None  # BT-10; the Leitweg-ID for German public buyers


class DocumentSettingsChange(BaseModel):
    einvoice_format: DocumentFormat | None = None
    buyer_reference: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[^\x00]*$")
    clear_buyer_reference: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> DocumentSettingsChange:
        if self.clear_buyer_reference and self.buyer_reference is not None:
            raise ValueError("give buyer_reference or clear_buyer_reference, not both")
        return self


class DocumentSettingsRefused(ValueError):
    """The change would leave the client with a format its data cannot produce; names the rule and field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _settings(client) -> DocumentSettings:  # type: ignore[no-untyped-def]
    return DocumentSettings(
        external_id=client.external_id,
        einvoice_format=DocumentFormat(client.einvoice_format),
        buyer_reference=client.buyer_reference,
    )


async def document_settings(
    session: AsyncSession, external_id: str, *, workspace_id: int | None = None
) -> DocumentSettings:
    return _settings(await require_client(session, external_id, workspace_id=workspace_id))


async def update_document_settings(
    session: AsyncSession, external_id: str, change: DocumentSettingsChange, *, workspace_id: int | None = None
) -> DocumentSettings:
    client = await require_client(session, external_id, workspace_id=workspace_id)
    fmt = change.einvoice_format or DocumentFormat(client.einvoice_format)
    reference = None if change.clear_buyer_reference else (change.buyer_reference or client.buyer_reference)
    if fmt is DocumentFormat.xrechnung and not reference:
        raise DocumentSettingsRefused(
            "buyer_reference", "BR-DE-15: XRechnung needs the buyer reference (Leitweg-ID): give buyer_reference"
        )
    client.einvoice_format = fmt.value
    client.buyer_reference = reference
    client.updated_at = utcnow()
    session.add(client)
    return _settings(client)
