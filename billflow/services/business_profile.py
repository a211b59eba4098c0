"""The seller's details: the functions every document reads them through.

New documents take the seller from their workspace (table workspaces, edited in Settings > Business profile, the
CLI and /v1/workspaces). The BILLFLOW_BUSINESS_* settings are validated at start and built workspace 1 in the
migration; they remain the seller only of documents issued before sellers were snapshotted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from models.documents import Party, PaymentMeans, PostalAddress, check_country, check_vat_id
from models.enums import TaxCategory
from models.workspace_ids import DEFAULT_WORKSPACE_ID  # not models.columns: no SQLAlchemy for the CLI's reads

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from billflow.config import Settings
    from models.workflow_io import LineIn
    from models.workspaces import Workspace


class BusinessProfileError(ValueError):
    """A seller setting that cannot appear on a valid invoice; names the setting."""


class BusinessProfile:
    """The seller as a document `Party` plus the bank account for credit transfers."""

    def __init__(self, party: Party, iban: str | None, bic: str | None) -> None:
        self.party = party
        self.iban = iban
        self.bic = bic

    def payment_means(self, *, card_url: str | None = None, terms: str | None = None) -> PaymentMeans:
        return PaymentMeans(iban=self.iban, bic=self.bic, card_url=card_url, terms=terms)


def _checked(check: Callable[[str], str], value: str, *, field: str) -> str:
    try:
        return check(value)
    except ValueError as err:
        raise BusinessProfileError(f"{field}: {err}") from err


def _bank_account(iban: str | None, bic: str | None) -> tuple[str | None, str | None]:
    from schwifty import BIC, IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        iban = IBAN(iban).compact if iban else None
    except SchwiftyException as err:
        raise BusinessProfileError(f"BILLFLOW_BUSINESS_IBAN: not a valid IBAN ({err})") from err
    try:
        bic = BIC(bic).compact if bic else None
    except SchwiftyException as err:
        raise BusinessProfileError(f"BILLFLOW_BUSINESS_BIC: not a valid BIC ({err})") from err
    return iban, bic


_FIELDS = (
    "business_name", "business_legal_name", "business_address_line1", "business_postcode", "business_city",
    "business_country", "business_vat_id", "business_registration", "business_iban", "business_bic", "from_email",
)  # fmt: skip


def current_business_profile(settings: Settings) -> BusinessProfile:
    """The validated seller profile; raises BusinessProfileError naming the bad setting. Validated once per set
    of values (every invoice and document asks for it)."""
    return _profile(*(getattr(settings, name) for name in _FIELDS))


@lru_cache(maxsize=32)
def _profile(
    name: str,
    legal_name: str | None,
    line1: str | None,
    postcode: str | None,
    city: str | None,
    country: str | None,
    vat_id: str | None,
    registration: str | None,
    iban: str | None,
    bic: str | None,
    email: str,
) -> BusinessProfile:
    if country:
        country = _checked(check_country, country, field="BILLFLOW_BUSINESS_COUNTRY")
    if vat_id:
        vat_id = _checked(check_vat_id, vat_id, field="BILLFLOW_BUSINESS_VAT_ID")
    if iban or bic:  # schwifty's registry loads only when needed
        iban, bic = _bank_account(iban, bic)
    party = Party(
        name=name,
        legal_name=legal_name or name,
        address=PostalAddress(line1=line1, postcode=postcode, city=city, country=country or None),
        vat_id=vat_id or None,
        registration=registration,
        email=email,
    )
    return BusinessProfile(party, iban or None, bic or None)


def refusal_for(lines: Iterable[LineIn], profile: BusinessProfile) -> str | None:
    """What the seller's profile lacks for these lines (None: nothing); checked before a booking is accepted."""
    for index, line in enumerate(lines):
        if line.category is TaxCategory.reverse_charge and not profile.party.vat_id:
            return (
                f"BILLFLOW_BUSINESS_VAT_ID: lines[{index}] is reverse charge, which needs the seller's VAT id "
                "(BR-AE-03); set it in the business profile"
            )
    return None


# --- the workspace as the seller ---------------------------------------------------------------------


def workspace_seller(workspace: Workspace, *, email: str | None) -> BusinessProfile:
    """The workspace as the seller on its documents (the workspace is the one store of the profile)."""
    party = Party(
        name=workspace.name,
        legal_name=workspace.legal_name or workspace.name,
        address=PostalAddress(
            line1=workspace.address_line1, postcode=workspace.postcode, city=workspace.city, country=workspace.country
        ),
        vat_id=workspace.vat_id,
        registration=workspace.registration,
        email=email,
    )
    return BusinessProfile(party, workspace.iban, workspace.bic)


async def business_profile_in(
    session: AsyncSession, settings: Settings, *, workspace_id: int = DEFAULT_WORKSPACE_ID
) -> BusinessProfile:
    """The seller for a new document: the workspace's profile (workspace 1 until users and bookings name one)."""
    from billflow.repositories import workspaces as workspaces_repo

    workspace = await workspaces_repo.get_workspace(session, workspace_id=workspace_id)
    if workspace is None:  # not migrated to workspaces: the settings' (validated at start)
        return current_business_profile(settings)
    return workspace_seller(workspace, email=workspace.reply_to or settings.from_email)
