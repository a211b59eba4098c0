"""Tax arithmetic in one place (pure, so contracts and services share it), rounded as EN 16931 does it:
each line's net amount is rounded, then VAT is computed once per group of category and rate on the sum of that
group's net amounts (BR-CO-17), so the document's VAT is the sum of the breakdown, not of per-line roundings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from models.documents import TaxBreakdown, TaxLine
from models.money import round_minor


def line_net(quantity: Decimal, unit_price_minor: int) -> int:
    return round_minor(Decimal(quantity) * unit_price_minor)


def tax_on(net_minor: int, rate_bp: int) -> int:
    return round_minor(Decimal(net_minor) * rate_bp / 10_000)


def _group_key(tax: TaxLine) -> tuple[str, int, str]:
    return (tax.category.value, tax.rate_bp, tax.exemption_reason or "")


def breakdown(lines: Iterable[tuple[TaxLine, int]]) -> list[TaxBreakdown]:
    """(tax, net) per line -> one row per category, rate and reason, in first-seen order."""
    groups: dict[tuple[str, int, str], TaxBreakdown] = {}
    for tax, net in lines:
        key = _group_key(tax)
        row = groups.get(key)
        if row is None:
            row = groups[key] = TaxBreakdown(
                category=tax.category, rate_bp=tax.rate_bp, taxable_minor=0, tax_minor=0,
                exemption_reason=tax.exemption_reason,
            )  # fmt: skip
        row.taxable_minor += net
    for row in groups.values():
        row.tax_minor = tax_on(row.taxable_minor, row.rate_bp)
    return list(groups.values())


def totals(rows: Sequence[TaxBreakdown]) -> tuple[int, int, int]:
    """(net, tax, gross) of a breakdown."""
    net = sum(r.taxable_minor for r in rows)
    tax = sum(r.tax_minor for r in rows)
    return net, tax, net + tax


def split_gross(gross_minor: int, rows: Sequence[TaxBreakdown]) -> list[tuple[TaxLine, int]]:
    """Spread a gross amount (a deposit, a credit) over a document's VAT groups in proportion to their gross
    amounts; returns (tax, net) per group such that the groups' net plus VAT add up to the amount.

    Shares are apportioned by largest remainder; each group's net is the one whose VAT brings it closest to its
    share, and one group (a zero-rated one if there is one, which is exact) absorbs what rounding left over. With
    only taxed groups a gross amount may have no exact net (net + VAT skips values): it is then off by one minor
    unit, as EN 16931 rounds VAT per group (BR-CO-17).
    """
    weights = [r.taxable_minor + r.tax_minor for r in rows]
    whole = sum(weights)
    if whole <= 0 or gross_minor <= 0:
        return []
    raw = [Decimal(gross_minor) * w / whole for w in weights]
    shares = [int(x) for x in raw]
    by_remainder = sorted(range(len(rows)), key=lambda i: raw[i] - shares[i], reverse=True)
    for i in by_remainder[: gross_minor - sum(shares)]:
        shares[i] += 1
    live = [i for i in range(len(rows)) if shares[i] > 0]
    if not live:
        return []
    absorber = min(live, key=lambda i: (rows[i].rate_bp, -shares[i]))
    nets = {i: _net_for(shares[i], rows[i].rate_bp) for i in live if i != absorber}
    left = gross_minor - sum(n + tax_on(n, rows[i].rate_bp) for i, n in nets.items())
    nets[absorber] = _net_for(left, rows[absorber].rate_bp)
    return [
        (
            TaxLine(category=rows[i].category, rate_bp=rows[i].rate_bp, exemption_reason=rows[i].exemption_reason),
            nets[i],
        )
        for i in live
        if nets[i] > 0
    ]


def _net_for(gross_minor: int, rate_bp: int) -> int:
    """The net amount whose VAT brings it closest to `gross_minor`."""
    guess = round_minor(Decimal(gross_minor) * 10_000 / (10_000 + rate_bp))
    return min(range(guess - 2, guess + 3), key=lambda n: (abs(n + tax_on(n, rate_bp) - gross_minor), abs(n - guess)))
