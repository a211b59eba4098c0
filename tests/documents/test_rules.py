"""Inputs that cannot make a valid document are refused before issue, naming the field and the rule; the tax
breakdown is rounded as EN 16931 does it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from billflow.config import Settings
from billflow.services.business_profile import current_business_profile
from models import tax
from models.documents import TaxBreakdown, TaxLine
from models.enums import TaxCategory
from models.workflow_io import DepositIn, LineIn
from tests.documents.conftest import BUYER_VAT_ID, business_booking
from tests.factories import make_client

STANDARD_20 = TaxLine(category=TaxCategory.standard, rate_bp=2000)


def _problem(err: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(e["msg"] for e in err.value.errors())


def test_vat_is_computed_per_rate_group_not_summed_per_line() -> None:
    # Three lines of 0.05 at 10 %: per line each VAT rounds to 0.01 (0.03); on the group's 0.15 it is 0.02.
    ten = TaxLine(category=TaxCategory.standard, rate_bp=1000)
    rows = tax.breakdown([(ten, 5), (ten, 5), (ten, 5), (STANDARD_20, 1000)])
    assert [(r.rate_bp, r.taxable_minor, r.tax_minor) for r in rows] == [(1000, 15, 2), (2000, 1000, 200)]
    assert tax.totals(rows) == (1015, 202, 1217)


def test_line_net_rounds_half_up_to_a_minor_unit() -> None:
    assert tax.line_net(Decimal("2.5"), 333) == 833  # 832.5
    assert tax.line_net(Decimal("0.333"), 1000) == 333


def test_split_gross_adds_up_exactly_and_keeps_each_group() -> None:
    rows = [
        TaxBreakdown(category=TaxCategory.standard, rate_bp=2000, taxable_minor=30_000, tax_minor=6_000),
        TaxBreakdown(category=TaxCategory.zero, rate_bp=0, taxable_minor=2_500, tax_minor=0),
    ]
    parts = tax.split_gross(11_550, rows)  # 30 % of 38,500
    assert [(t.category, net) for t, net in parts] == [(TaxCategory.standard, 9_000), (TaxCategory.zero, 750)]
    assert tax.totals(tax.breakdown(parts))[2] == 11_550


def test_exempt_line_without_reason_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        LineIn(description="Training", unit_price_minor=1000, tax_category=TaxCategory.exempt)
    assert "exemption_reason" in _problem(err)


def test_standard_line_without_rate_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        LineIn(description="Session", unit_price_minor=1000, tax_category=TaxCategory.standard)
    assert "tax_rate_bp" in _problem(err)


def test_zero_rated_category_with_a_rate_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        LineIn(description="Session", unit_price_minor=1000, tax_rate_bp=2000, tax_category=TaxCategory.reverse_charge)
    assert "tax_rate_bp" in _problem(err)


def test_reverse_charge_without_the_buyers_vat_id_is_refused_naming_client_vat_id() -> None:
    line = LineIn(description="Consulting", unit_price_minor=50_000, tax_category=TaxCategory.reverse_charge)
    with pytest.raises(ValidationError) as err:
        business_booking(client=make_client(kind="business"), lines=[line])
    assert "client.vat_id" in _problem(err) and "reverse charge" in _problem(err)


def test_reverse_charge_to_a_consumer_is_refused() -> None:
    line = LineIn(description="Consulting", unit_price_minor=50_000, tax_category=TaxCategory.reverse_charge)
    with pytest.raises(ValidationError) as err:
        business_booking(client=make_client(kind="consumer", vat_id=BUYER_VAT_ID), lines=[line])
    assert "client.kind" in _problem(err)


def test_invalid_buyer_vat_id_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        make_client(vat_id="DE123456789")
    assert err.value.errors()[0]["loc"] == ("vat_id",)


def test_invalid_country_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        make_client(country="XX")
    assert err.value.errors()[0]["loc"] == ("country",)


def test_deposit_needs_exactly_one_of_amount_or_percentage() -> None:
    with pytest.raises(ValidationError):
        DepositIn(amount_minor=100, percent_bp=1000)
    with pytest.raises(ValidationError) as err:
        business_booking(deposit=DepositIn(amount_minor=38_500))  # the whole booking is not a deposit
    assert "deposit.amount_minor" in _problem(err)


def test_business_profile_is_normalized_from_settings(doc_settings: Settings) -> None:
    profile = current_business_profile(doc_settings)
    assert profile.party.vat_id == "DE136695976"
    assert profile.party.address.country == "DE"
    assert (profile.iban, profile.bic) == ("DE89370400440532013000", "COBADEFFXXX")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("BILLFLOW_BUSINESS_IBAN", "DE89 3704 0044 0532 0130 01"),
        ("BILLFLOW_BUSINESS_BIC", "NOTABIC"),
        ("BILLFLOW_BUSINESS_VAT_ID", "DE123456789"),
        ("BILLFLOW_BUSINESS_COUNTRY", "Germany"),
    ],
)
def test_an_invalid_seller_setting_stops_the_start_naming_it(setting: str, value: str) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(**{setting: value})
    assert setting in str(err.value)


def test_split_gross_is_exact_when_a_zero_rated_group_can_absorb_the_rounding() -> None:
    rows = [
        TaxBreakdown(category=TaxCategory.standard, rate_bp=2000, taxable_minor=30_000, tax_minor=6_000),
        TaxBreakdown(category=TaxCategory.zero, rate_bp=0, taxable_minor=2_500, tax_minor=0),
    ]
    for gross in range(9_990, 10_011):
        assert tax.totals(tax.breakdown(tax.split_gross(gross, rows)))[2] == gross


def test_split_gross_with_one_taxed_group_is_within_a_minor_unit() -> None:
    rows = [TaxBreakdown(category=TaxCategory.standard, rate_bp=2000, taxable_minor=30_000, tax_minor=6_000)]
    for gross in range(9_340, 9_360):
        assert abs(tax.totals(tax.breakdown(tax.split_gross(gross, rows)))[2] - gross) <= 1
