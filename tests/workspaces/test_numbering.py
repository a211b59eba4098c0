"""Numbering series: patterns checked, numbers gap-free per workspace and type, yearly or continuous."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import numbering as numbering_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import workspaces
from models.numbering import DocumentType, NumberingSeriesIn, NumberReset, check_pattern, render_number
from tests.workspaces.support import make_workspace


def test_render_pads_the_sequence_and_prints_the_year() -> None:
    assert render_number("{prefix}-{yyyy}-{seq:06}", prefix="INV", year=2026, seq=42) == "INV-2026-000042"
    assert render_number("{yy}/{seq}", prefix="", year=2026, seq=7) == "26/7"


@pytest.mark.parametrize(
    ("pattern", "reset", "problem"),
    [
        ("{prefix}-{yyyy}", NumberReset.yearly, "exactly one {seq}"),
        ("{prefix}-{seq}-{seq}", NumberReset.continuous, "exactly one {seq}"),
        ("{prefix}-{seq:06}", NumberReset.yearly, "needs {yyyy} or {yy}"),
        ("{month}-{seq}", NumberReset.continuous, "unknown placeholder {month}"),
        ("{prefix}/{yyyy}/{seq}", NumberReset.yearly, "only letters, digits"),
        ("{prefix}-{yyyy}-{yyyy}-{yyyy}-{seq:09}", NumberReset.yearly, "fit in 32"),
    ],
)
def test_a_pattern_that_cannot_number_uniquely_is_refused(pattern: str, reset: NumberReset, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        check_pattern(pattern, reset=reset)


def test_the_series_schema_names_the_pattern() -> None:
    with pytest.raises(ValidationError) as caught:
        NumberingSeriesIn(document_type=DocumentType.invoice, pattern="{seq}")
    assert [e["loc"] for e in caught.value.errors()] == [("pattern",)]


async def _next(db: Database, workspace_id: int, year: int, kind: DocumentType = DocumentType.invoice) -> str:
    async with db.session() as session:
        return await numbering_repo.next_number(session, workspace_id=workspace_id, document_type=kind, year=year)


async def test_yearly_series_start_again_each_year(db: Database) -> None:
    ws = await make_workspace(db)
    assert ws.id is not None
    base = ws.slug.upper().replace("-", "")[:7]
    assert [await _next(db, ws.id, 2030), await _next(db, ws.id, 2030), await _next(db, ws.id, 2031)] == [
        f"{base}-INV-2030-000001",
        f"{base}-INV-2030-000002",
        f"{base}-INV-2031-000001",
    ]
    # Credit notes count on their own.
    assert await _next(db, ws.id, 2030, DocumentType.credit_note) == f"{base}-CN-2030-000001"


async def test_a_continuous_series_keeps_counting_across_years(db: Database) -> None:
    ws = await make_workspace(db)
    assert ws.id is not None
    series = NumberingSeriesIn(
        document_type=DocumentType.invoice, prefix="K", pattern="{prefix}{seq:04}", reset=NumberReset.continuous
    )
    await workspaces.set_numbering(db, ws.slug, series)
    assert [await _next(db, ws.id, 2030), await _next(db, ws.id, 2031)] == ["K0001", "K0002"]


async def test_a_rolled_back_document_returns_its_number(db: Database) -> None:
    ws = await make_workspace(db)
    assert ws.id is not None
    first = await _next(db, ws.id, 2032)
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await numbering_repo.next_number(session, workspace_id=ws.id, document_type=DocumentType.invoice, year=2032)
            raise RuntimeError("the invoice's transaction fails after taking a number")
    assert (first[-6:], (await _next(db, ws.id, 2032))[-6:]) == ("000001", "000002")


async def test_two_workspaces_count_separately(db: Database) -> None:
    a, b = await make_workspace(db), await make_workspace(db)
    assert a.id is not None and b.id is not None
    await _next(db, a.id, 2033)
    await _next(db, a.id, 2033)
    assert (await _next(db, b.id, 2033)).endswith("-2033-000001")


async def test_an_issue_holds_the_counter_only_from_its_last_statement(db: Database, settings: Settings) -> None:
    """Intake takes the number last (issue 12): an issue still writing its rows does not hold back another one
    of the same workspace, which takes the next number and commits meanwhile; numbers stay in commit order."""
    import asyncio

    from billflow.services import intake, invoicing
    from tests.factories import make_booking

    async with db.session() as first:
        issued = await intake.issue_booking(first, settings, make_booking(), defer_number=True)
        assert issued.invoice.number.startswith("pending-")
        async with db.session() as second:  # would wait for `first`'s commit if it held the counter row
            other = await asyncio.wait_for(intake.issue_booking(second, settings, make_booking()), timeout=10)
        number = await invoicing.assign_number(first, issued.invoice)
    assert int(number.rsplit("-", 1)[1]) == int(other.invoice.number.rsplit("-", 1)[1]) + 1
    async with db.session() as session:
        events = await timeline_repo.list_events(session, invoice_id=issued.invoice.id)
    assert any(number in e.message for e in events if e.kind == "invoice.issued")


async def test_an_invoice_committed_unnumbered_is_numbered_once_whoever_comes_first(
    db: Database, settings: Settings
) -> None:
    """Intake commits the invoice, then numbers it by one autocommit statement; if two callers race (a replay,
    the run's record_invoice), one takes the number and the other reads it: no number lost, none twice."""
    import asyncio

    from billflow.repositories import invoices as invoices_repo
    from billflow.services import intake
    from tests.factories import make_booking

    async with db.session() as session:
        issued = await intake.issue_booking(session, settings, make_booking(), defer_number=True)
    assert issued.invoice.id is not None
    copies = []
    for _ in range(3):
        async with db.session() as session:
            copies.append(await invoices_repo.get_invoice(session, invoice_id=issued.invoice.id))
    numbers = await asyncio.gather(*(intake.number_now(db, c) for c in copies if c is not None))
    assert len(set(numbers)) == 1 and not numbers[0].startswith("pending-")
    async with db.session() as session:
        later = await intake.issue_booking(session, settings, make_booking())
    assert int(later.invoice.number.rsplit("-", 1)[1]) == int(numbers[0].rsplit("-", 1)[1]) + 1
