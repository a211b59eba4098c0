"""The seller's details: the one function every document reads them through.

From the BILLFLOW_BUSINESS_* settings today; workspaces will move them to a table, and only this module changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from models.documents import Party, PaymentMeans, PostalAddress, check_country, check_vat_id
from models.enums import TaxCategory
from models.workflow_io import LineIn

if TYPE_CHECKING:
    from billflow.config import Settings


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


def current_business_profile(settings: Settings) -> BusinessProfile:
    """The validated seller profile; raises BusinessProfileError naming the bad setting."""
    country = (
        _checked(check_country, settings.business_country, field="BILLFLOW_BUSINESS_COUNTRY")
        if settings.business_country
        else None
    )
    vat_id = (
        _checked(check_vat_id, settings.business_vat_id, field="BILLFLOW_BUSINESS_VAT_ID")
        if settings.business_vat_id
        else None
    )
    iban = bic = None
    if settings.business_iban:
        try:
            iban = IBAN(settings.business_iban).compact
        except SchwiftyException as err:
            raise BusinessProfileError(f"BILLFLOW_BUSINESS_IBAN: not a valid IBAN ({err})") from err
    if settings.business_bic:
        try:
            bic = BIC(settings.business_bic).compact
        except SchwiftyException as err:
            raise BusinessProfileError(f"BILLFLOW_BUSINESS_BIC: not a valid BIC ({err})") from err
    party = Party(
        name=settings.business_name,
        legal_name=settings.business_legal_name or settings.business_name,
        address=PostalAddress(
            line1=settings.business_address_line1,
            postcode=settings.business_postcode,
            city=settings.business_city,
            country=country,
        ),
        vat_id=vat_id,
        registration=settings.business_registration,
        email=settings.from_email,
    )
    return BusinessProfile(party, iban, bic)


def refusal_for(lines: Iterable[LineIn], profile: BusinessProfile) -> str | None:
    """What the seller's profile lacks for these lines (None: nothing); checked before a booking is accepted."""
    for index, line in enumerate(lines):
        if line.category is TaxCategory.reverse_charge and not profile.party.vat_id:
            return (
                f"BILLFLOW_BUSINESS_VAT_ID: lines[{index}] is reverse charge, which needs the seller's VAT id "
                "(BR-AE-03); set it in the business profile"
            )
    return None
