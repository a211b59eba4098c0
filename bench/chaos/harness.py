"""One scenario's world: a fresh database on the suite's own PostgreSQL, its own Temporal dev server (SQLite
file), a worker process kept alive by a supervisor (as an orchestrator would), optionally the web app."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from types import TracebackType

import psycopg
from temporalio.client import Client

from bench.chaos.ledger import Ledger, LedgerSummary
from bench.chaos.processes import ApiProcess, OwnedPostgres, TemporalDevServer, WorkerProcess
from billflow.config import Settings
from billflow.db import Database, to_psycopg_url
from billflow.temporal import connect


class ChaosStack:
    def __init__(
        self,
        postgres: OwnedPostgres,
        work_dir: Path,
        *,
        api: bool = False,
        fault_rate: float = 0.0,
        env: dict[str, str] | None = None,
        worker_niceness: int = 0,
    ) -> None:
        self.postgres = postgres
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.database = f"chaos_{uuid.uuid4().hex[:8]}"
        self.ledger = Ledger(work_dir / "ledger.jsonl")
        self.temporal = TemporalDevServer(work_dir)
        self.task_queue = f"chaos-{uuid.uuid4().hex[:6]}"
        self.settings_env = {
            "DATABASE_URL": to_psycopg_url(postgres.url(self.database)),
            "TEMPORAL_ADDRESS": self.temporal.address,
            "BILLFLOW_TASK_QUEUE": self.task_queue,
            "BILLFLOW_DATA_DIR": str(work_dir),
            "CHAOS_LEDGER": str(self.ledger.path),
            "CHAOS_FAULT_RATE": str(fault_rate),
            **(env or {}),
        }
        self.api = ApiProcess(work_dir, self.settings_env) if api else None
        if self.api is not None:  # pay and invoice links in emails point at this app
            self.settings_env["BILLFLOW_PUBLIC_URL"] = self.api.env["BILLFLOW_PUBLIC_URL"] = self.api.url
        self.worker = WorkerProcess(work_dir, self.settings_env, niceness=worker_niceness)
        self.client: Client | None = None
        self.db: Database | None = None
        self.supervise = True  # restart a dead worker within half a second
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def settings(self) -> Settings:
        return Settings(**{k: v for k, v in self.settings_env.items() if not k.startswith("CHAOS_")})  # type: ignore[arg-type]

    @property
    def plain_url(self) -> str:
        """The database URL for psycopg (no SQLAlchemy driver suffix)."""
        return self.postgres.url(self.database)

    async def __aenter__(self) -> ChaosStack:
        with psycopg.connect(self.postgres.admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.db = Database(self.settings_env["DATABASE_URL"], pool_size=5)
        await self.db.create_schema()
        await asyncio.to_thread(self.temporal.start)
        self._follow_temporal_port()
        self.client = await self._connect()
        self.worker.start()
        if self.api is not None:
            await asyncio.to_thread(self.api.start)
        self._supervisor = asyncio.create_task(self._keep_worker_alive())
        return self

    async def __aexit__(self, *exc: object | TracebackType) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        for proc in (self.api, self.worker, self.temporal):
            if proc is not None:
                await asyncio.to_thread(proc.stop)
        if self.api is not None:
            self.api.close()
        if self.db is not None:
            await self.db.dispose()
        with contextlib.suppress(Exception), psycopg.connect(self.postgres.admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _follow_temporal_port(self) -> None:
        """The dev server moves to a fresh port when its first one was taken: every child is told."""
        address = self.temporal.address
        for env in (self.settings_env, self.worker.env, *((self.api.env,) if self.api else ())):
            env["TEMPORAL_ADDRESS"] = address

    async def _connect(self) -> Client:
        last: Exception | None = None
        for _ in range(100):
            try:
                return await connect(self.settings)
            except RuntimeError as err:
                last = err
                await asyncio.sleep(0.2)
        raise RuntimeError(f"cannot connect to the dev server: {last}")

    async def _keep_worker_alive(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.supervise and not self.worker.running:
                self.worker.start()

    async def restart_temporal(self, down_for: float) -> None:
        """Stop the dev server (SIGKILL: no clean shutdown) and start it again on the same SQLite file."""
        await asyncio.to_thread(self.temporal.kill)
        await asyncio.sleep(down_for)
        await asyncio.to_thread(self.temporal.start)

    def ledger_summary(self) -> LedgerSummary:
        return LedgerSummary.read(self.ledger)
