"""Waiting for invoice workflows to record their invoices: one shared poll of PostgreSQL per process.

An accepted booking event answers with its invoice number when the workflow records it within a few seconds.
Under load hundreds of answers wait at once; each polling on its own (a session per check, or worse, the
workflow's status query, a task for the busy worker) cost the API more than the events themselves. Here every
waiter registers its workflow id and one task asks for all of them in a single query every POLL_SECONDS.
"""

from __future__ import annotations

import asyncio
import weakref

from sqlmodel import col, select

from billflow.db import Database
from models.invoices import Invoice

POLL_SECONDS = 0.1


class IssuedWatch:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def wait(self, workflow_id: str, timeout: float) -> bool:
        """True once the invoice of `workflow_id` is in the database; False if not within `timeout` seconds."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(workflow_id, []).append(future)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self._waiters.get(workflow_id, [])
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                self._waiters.pop(workflow_id, None)

    async def _poll(self) -> None:
        """Runs while anyone waits; a failed query (database down) is tried again on the next tick."""
        while self._waiters:
            await asyncio.sleep(POLL_SECONDS)
            ids = list(self._waiters)
            try:
                async with self._db.session() as session:
                    query = select(Invoice.workflow_id).where(col(Invoice.workflow_id).in_(ids))
                    found = (await session.exec(query)).all()
            except Exception:
                continue
            for workflow_id in found:
                for future in self._waiters.pop(workflow_id, []):
                    if not future.done():
                        future.set_result(None)


_WATCHES: weakref.WeakKeyDictionary[Database, IssuedWatch] = weakref.WeakKeyDictionary()


def issued_watch(db: Database) -> IssuedWatch:
    """The process's watch for this database."""
    watch = _WATCHES.get(db)
    if watch is None:
        watch = _WATCHES[db] = IssuedWatch(db)
    return watch
