"""The short version of every fault scenario (`python bench/chaos.py --short`), one test each: zero duplicates,
zero losses, no problem found. Marked `chaos`: `pytest -m chaos tests/chaos` (a few minutes on 2 cores)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chaos.context import SuiteContext
from bench.chaos.processes import OwnedPostgres
from bench.chaos.runner import SCENARIOS, run_scenario

pytestmark = pytest.mark.chaos


@pytest.fixture(scope="module")
def suite() -> Iterator[SuiteContext]:
    """The suite's own embedded PostgreSQL (scenarios stop it; the shared server is never touched).

    Not under pytest's tmp_path: the server runs as another system user, and every pytest session on the machine
    makes /tmp/pytest-of-<user> private again, which cut a running server off its data directory."""
    with tempfile.TemporaryDirectory(prefix="billflow-chaos-") as tmp:
        work_dir = Path(tmp)
        postgres = OwnedPostgres(work_dir / "postgres")
        try:
            yield SuiteContext(postgres=postgres, work_dir=work_dir, short=True)
        finally:
            postgres.close()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_scenario_loses_nothing_and_does_nothing_twice(scenario: str, suite: SuiteContext) -> None:
    result = await run_scenario(scenario, suite)
    assert result.skipped is None, result.skipped
    assert (result.duplicates, result.lost, result.problems) == (0, 0, []), result.notes
    assert result.invoices > 0
