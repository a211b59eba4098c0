"""Where document files render: in processes of their own beside the worker, or in a thread.

Rendering a PDF is pure CPU work (fpdf2, fontTools, pypdf). In a thread it shares the worker's interpreter lock
with the event loop that runs every activity and database round trip, so while documents rendered, each await in
the worker resumed late (bench/lifecycle.py: the invoice counter's row lock was held across those late resumes,
and invoices queued behind it). The worker starts a pool with `started(n)`; everything else (the API, the CLI,
tests) renders in a thread as before, so nothing changes for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_processes = 0


def _warm() -> None:
    """Import the renderers and cut the fonts once in each new process, before the first document waits on it."""
    from billflow.pdf_fonts import warm_fonts

    warm_fonts()


def _new_pool(processes: int) -> ProcessPoolExecutor:
    # Spawned, not forked: the worker runs threads (the SDK's, the database driver's), unsafe to fork.
    return ProcessPoolExecutor(
        max_workers=processes, mp_context=multiprocessing.get_context("spawn"), initializer=_warm
    )


@contextlib.contextmanager
def started(processes: int) -> Iterator[None]:
    """Render in `processes` processes while inside; 0 keeps rendering in threads."""
    global _pool, _processes
    if processes <= 0 or _pool is not None:
        yield
        return
    if multiprocessing.current_process().daemon:  # a daemonic process may not start children
        log.warning("render processes unavailable in a daemonic process: documents render in threads")
        yield
        return
    _pool, _processes = _new_pool(processes), processes
    try:
        yield
    finally:
        pool, _pool = _pool, None
        # Waited for (a render in flight is short): shut down without waiting, the render process sometimes never
        # got its stop sentinel and the worker hung at exit joining it (bench/lifecycle.py, bench/recurring.py).
        pool.shutdown(wait=True, cancel_futures=True)


async def render(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in the render pool when one is started, else in a thread. `fn` and its arguments
    must pickle (module-level functions, pydantic models, paths)."""
    global _pool
    pool = _pool
    if pool is None:
        return await asyncio.to_thread(fn, *args, **kwargs)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))
    except BrokenProcessPool:
        # A render process died (killed, out of memory): later documents get a fresh pool; this one fails and
        # its activity retries.
        if _pool is pool:
            log.error("a render process died: starting a new render pool")
            _pool = _new_pool(_processes)
            pool.shutdown(wait=False, cancel_futures=True)
        raise
