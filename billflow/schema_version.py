"""Is a database at the newest migration? Answered without importing Alembic (about 0.6 s of start-up).

The CLI asks this before every command and runs the Alembic upgrade (billflow.migrate) only when the answer is
no, so read-only commands on an up-to-date database start quickly (issue 11, item 15). The heads are read from
the migration files' own `revision` / `down_revision` literals; tests/ops/test_cli_startup.py checks that they
match Alembic's.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI's psycopg reads (starter/reads.py) use head_revisions without SQLAlchemy
    from sqlalchemy.ext.asyncio import AsyncEngine

VERSIONS_DIR = Path(__file__).resolve().parent.parent / "migrations" / "versions"


# `revision = "..."` / `down_revision: str | None = "..."` at the start of a line: the module-level literals.
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


@lru_cache
def head_revisions() -> frozenset[str]:
    """Read with a regex and literal_eval, not by parsing each file (a few ms, not 20, of every CLI command)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        for name, value in _assignments(path.read_text()):
            if name == "revision":
                revisions.add(value)
            elif name == "down_revision":
                parents.update([value] if isinstance(value, str) else (value or ()))
    return frozenset(revisions - parents)


def _assignments(source: str) -> list[tuple[str, Any]]:
    """Module-level `name = literal` and `name: type = literal` statements of revision and down_revision."""
    return [(match[1], ast.literal_eval(match[2])) for match in _ASSIGNMENT.finditer(source)]


async def at_head(engine: AsyncEngine) -> bool:
    """True when the database's Alembic version is exactly the migrations' head(s); False otherwise, including
    a database without the version table (a fresh one)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    heads = head_revisions()
    if not heads:
        return False
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:
        return False
    return frozenset(rows) == heads
