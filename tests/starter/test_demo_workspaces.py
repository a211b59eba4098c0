"""`billflow demo`'s two businesses: workspace 1 and a Danish studio with its own currency and numbering."""

from __future__ import annotations

from billflow.db import Database
from billflow.services import workspaces
from models.workspaces import WorkspaceUpdate
from starter.demo import DEMO_BUSINESS, DEMO_STUDIO_NORD, stories, with_demo_workspaces

# The workspace-1 fields the demo fills when empty: put back after the test, for the tests that follow.
FILLED = [key.removeprefix("business_") for key in DEMO_BUSINESS if key != "business_phone"]


async def test_the_demo_has_two_businesses_in_different_countries_and_currencies(db: Database) -> None:
    before = await workspaces.get_workspace(db, 1)
    try:
        await _two_businesses(db)
    finally:
        await workspaces.update_workspace(db, 1, WorkspaceUpdate(**{f: getattr(before, f) for f in FILLED}))


async def _two_businesses(db: Database) -> None:
    first = await with_demo_workspaces(db)
    again = await with_demo_workspaces(db)  # a second demo run reuses the studio
    assert first == again and first["home"][0] == 1 and first["nord"][0] != 1
    home, nord = await workspaces.get_workspace(db, 1), await workspaces.get_workspace(db, first["nord"][0])
    assert (nord.slug, nord.country, nord.default_currency) == (DEMO_STUDIO_NORD["slug"], "DK", "DKK")
    assert home.country != nord.country and home.default_currency != nord.default_currency
    invoice_series = next(s for s in nord.numbering if s.document_type.value == "invoice")
    assert invoice_series.next_example.startswith("NORD-")
    # Each business has stories of its own, in its currency.
    assert {s.currency for s in stories() if s.business == "nord"} == {"DKK"}
    assert any(s.business == "home" for s in stories())
