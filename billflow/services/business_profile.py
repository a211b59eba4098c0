"""The seller's details: the functions every document reads them through.

The profile an admin saved in the staff app (table business_profiles, one row per workspace key) wins; without
one, the BILLFLOW_BUSINESS_* settings apply. Workspaces (issue 13) pass their key; only this module changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from billflow.repositories import business_profiles as repo
from models.business_profiles import DEFAULT_WORKSPACE, BusinessProfileIn, BusinessProfileRow
from models.columns import utcnow
from models.documents import Party, PaymentMeans, PostalAddress, check_country, check_vat_id
from models.enums import TaxCategory

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from billflow.config import Settings
    from billflow.db import Database
    from models.workflow_io import LineIn


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


# --- the profile edited in the staff app --------------------------------------------------------------


class StoredLogo:
    def __init__(self, content: bytes, media_type: str) -> None:
        self.content = content
        self.media_type = media_type


def _from_row(row: BusinessProfileRow, settings: Settings) -> BusinessProfile:
    party = Party(
        name=row.sender_name,
        legal_name=row.legal_name,
        address=PostalAddress(line1=row.address_line1, postcode=row.postcode, city=row.city, country=row.country),
        vat_id=row.vat_id,
        registration=settings.business_registration,  # not on the form yet: the setting's
        email=row.reply_to or settings.from_email,
    )
    return BusinessProfile(party, row.iban, row.bic)


async def business_profile_in(
    session: AsyncSession, settings: Settings, *, workspace: str | None = None
) -> BusinessProfile:
    """The seller for a new document: the saved profile, else the settings' (validated either way)."""

    row = await repo.get_profile(session, workspace=workspace or DEFAULT_WORKSPACE)
    return _from_row(row, settings) if row is not None else current_business_profile(settings)


def _from_settings(settings: Settings) -> dict[str, object]:
    return {
        "legal_name": settings.business_legal_name or settings.business_name,
        "address_line1": settings.business_address_line1,
        "postcode": settings.business_postcode,
        "city": settings.business_city,
        "country": settings.business_country,
        "vat_id": settings.business_vat_id,
        "iban": settings.business_iban,
        "bic": settings.business_bic,
        "sender_name": settings.business_name,
        "reply_to": settings.from_email,
        "reporting_timezone": settings.reporting_timezone,
    }


async def profile_form(db: Database, settings: Settings, *, workspace: str | None = None) -> dict[str, object]:
    """The form's values: the saved profile, else what the settings say today; plus whether a logo is stored."""
    async with db.session() as session:
        row = await repo.get_profile(session, workspace=workspace or DEFAULT_WORKSPACE)
    if row is None:
        values = {k: v for k, v in _from_settings(settings).items() if v is not None}
        defaults = {name: f.default for name, f in BusinessProfileIn.model_fields.items() if not f.is_required()}
        return {**defaults, **values, "has_logo": False, "saved": None}
    fields = BusinessProfileIn.model_fields
    values = {name: getattr(row, name) for name in fields}
    return {**values, "has_logo": row.logo is not None, "saved": row.updated_at, "saved_by": row.updated_by}


async def save_profile(
    db: Database,
    data: BusinessProfileIn,
    *,
    actor: str,
    logo: StoredLogo | None = None,
    remove_logo: bool = False,
    workspace: str | None = None,
) -> BusinessProfileRow:
    """Store the profile (one row per workspace: saving again updates it); a new logo replaces the old one."""

    async with db.session() as session:
        key = workspace or DEFAULT_WORKSPACE
        row = await repo.get_profile(session, workspace=key) or BusinessProfileRow(
            workspace=key, legal_name=data.legal_name, sender_name=data.sender_name
        )
        for name, value in data.model_dump().items():
            setattr(row, name, value)
        if logo is not None:
            row.logo, row.logo_type = logo.content, logo.media_type
        elif remove_logo:
            row.logo, row.logo_type = None, None
        row.updated_at = utcnow()
        row.updated_by = actor
        saved = await repo.save_profile(session, row=row)
        return saved


async def stored_logo(db: Database, *, workspace: str | None = None) -> StoredLogo | None:

    async with db.session() as session:
        row = await repo.get_profile(session, workspace=workspace or DEFAULT_WORKSPACE)
    if row is None or row.logo is None or row.logo_type is None:
        return None
    return StoredLogo(row.logo, row.logo_type)
