"""SIGTERM with an activity in flight: the worker stops polling, lets the activity finish within its grace
period (or hands it back to the server, which retries it elsewhere), and exits 0; another worker on the same
task queue completes the run."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.ops.slow_worker import SlowWorkflow, slow_step

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[2]


async def _wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


@pytest.fixture
async def worker_process(
    dev_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> AsyncIterator[Callable[[float], asyncio.subprocess.Process]]:
    """Starts tests/ops/slow_worker.py in its own process with a given grace period."""
    started: list[asyncio.subprocess.Process] = []
    address = dev_env.client.service_client.config.target_host

    async def start(grace: float, *, log_name: str = "log", max_activities: int = 100) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.ops.slow_worker",
            address,
            task_queue,
            str(tmp_path / log_name),
            str(grace),
            str(max_activities),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"polling"
        started.append(proc)
        return proc

    yield start  # type: ignore[misc]
    for proc in started:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _start_slow(dev_env: WorkflowEnvironment, task_queue: str, seconds: float) -> WorkflowHandle:
    return await dev_env.client.start_workflow(
        SlowWorkflow.run, seconds, id=f"slow-{uuid.uuid4().hex[:8]}", task_queue=task_queue
    )


def _log(tmp_path: Path) -> list[str]:
    path = tmp_path / "log"
    return path.read_text().splitlines() if path.exists() else []


async def test_sigterm_lets_the_activity_in_flight_finish(
    dev_env: WorkflowEnvironment,
    worker_process,
    task_queue: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    proc = await worker_process(10.0)
    handle = await _start_slow(dev_env, task_queue, seconds=1.5)
    await _wait_for(lambda: _log(tmp_path) == ["started 1"])

    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    # It waited for the activity rather than dropping it.
    assert _log(tmp_path) == ["started 1", "finished 1"]
    assert time.monotonic() - signalled > 0.5

    # The workflow task that follows goes to whichever worker polls the queue now.
    async with Worker(dev_env.client, task_queue=task_queue, workflows=[SlowWorkflow], activities=[slow_step]):
        assert await handle.result() == "done on attempt 1"
    assert _log(tmp_path) == ["started 1", "finished 1"]  # never run twice


async def test_activity_outlasting_the_grace_period_is_handed_back(
    dev_env: WorkflowEnvironment,
    worker_process,
    task_queue: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    proc = await worker_process(0.5)
    handle = await _start_slow(dev_env, task_queue, seconds=60)
    await _wait_for(lambda: _log(tmp_path) == ["started 1"])

    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), timeout=15) == 0  # did not wait the full minute

    async with Worker(dev_env.client, task_queue=task_queue, workflows=[SlowWorkflow], activities=[slow_step]):
        assert await asyncio.wait_for(handle.result(), timeout=30) == "done on attempt 2"
    assert _log(tmp_path) == ["started 1", "started 2", "finished 2"]


async def test_workers_on_one_task_queue_share_the_load(
    dev_env: WorkflowEnvironment,
    worker_process,
    task_queue: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """Two worker processes with one activity slot each: four 1-second activities are spread over both."""
    workers = [await worker_process(10.0, log_name=f"log-{n}", max_activities=1) for n in (1, 2)]
    handles = [await _start_slow(dev_env, task_queue, seconds=1.0) for _ in range(4)]
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=30)

    assert results == ["done on attempt 1"] * 4
    finished = [(tmp_path / f"log-{n}").read_text().count("finished") for n in (1, 2)]
    assert sum(finished) == 4
    assert min(finished) >= 1, finished
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
