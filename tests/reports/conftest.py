"""A database of its own for the report tests: reports aggregate over every invoice, so rows written by other
test modules in the shared session database would change the figures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from sqlalchemy import make_url

from billflow.db import Database
from tests.reports.dataset import load_known_dataset


@pytest.fixture(scope="session")
async def reports_db(database_url: str) -> AsyncIterator[Database]:
    url = make_url(database_url)
    name = f"billflow_reports_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = Database(url.set(database=name).render_as_string(hide_password=False), pool_size=2)
    try:
        await database.create_schema()
        async with database.session() as session:
            await load_known_dataset(session)
        yield database
    finally:
        await database.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
