"""What the benchmarks share: a throwaway database on DATABASE_URL's server or the embedded one."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from billflow.db import start_embedded_postgres, to_psycopg_url


def fresh_database() -> tuple[str, str]:
    """(url of a new database, admin url to drop it) on DATABASE_URL's server or the embedded one."""
    base = os.environ.get("DATABASE_URL")
    server = make_url(to_psycopg_url(base) if base else start_embedded_postgres(Path(".billflow")))
    name = f"billflow_bench_{uuid.uuid4().hex[:8]}"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False), admin
