"""`billflow dev` stops within 10 seconds of Ctrl-C whatever its workflows are doing (issue 11, item 3).

The stack runs as `billflow dev` in its own process (its own Temporal dev server, the session database), with the
SMTP email backend pointed at a server that accepts connections and never answers: the invoice email activity
hangs in a worker thread, the case where a worker's graceful shutdown and asyncio's exit would both wait on it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SilentSmtp:
    """Accepts SMTP connections and never sends the greeting."""

    def __init__(self) -> None:
        self.connections = 0
        self._held: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> SilentSmtp:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._held.append(writer)

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._held:
            writer.close()
        self._server.close()


@pytest.fixture
async def silent_smtp() -> AsyncIterator[SilentSmtp]:
    async with SilentSmtp() as server:
        yield server


async def _line_containing(stream: asyncio.StreamReader, text: str, timeout: float) -> None:
    async def read() -> None:
        while True:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"`billflow dev` exited before printing {text!r}")
            if text in line.decode(errors="replace"):
                return

    await asyncio.wait_for(read(), timeout=timeout)


async def test_dev_stops_within_10_seconds_while_an_email_activity_hangs(
    tmp_path: Path, database_url: str, silent_smtp: SilentSmtp
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BILLFLOW_", "TEMPORAL_", "SMTP_"))}
    env |= {
        "DATABASE_URL": database_url,
        "BILLFLOW_DATA_DIR": str(tmp_path / "data"),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{_free_port()}",
        "BILLFLOW_API_PORT": str(_free_port()),
        "BILLFLOW_TASK_QUEUE": f"dev-stop-{uuid.uuid4().hex[:8]}",
        "BILLFLOW_EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(silent_smtp.port),
        "BILLFLOW_EMAIL_TIMEOUT": "120",
        "COLUMNS": "200",
    }
    dev = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starter.cli",
        "dev",
        "--ui-port",
        str(_free_port()),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert dev.stdout is not None
        await _line_containing(dev.stdout, "billflow is running", timeout=120)

        booking = json.loads((ROOT / "examples" / "booking.json").read_text())
        booking["booking_id"] = f"dev-stop-{uuid.uuid4().hex[:8]}"
        (tmp_path / "booking.json").write_text(json.dumps(booking))
        create = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "starter.cli",
            "invoice",
            "create",
            str(tmp_path / "booking.json"),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.wait_for(create.wait(), timeout=60)
        deadline = time.monotonic() + 60
        while silent_smtp.connections == 0:  # the invoice email is now stuck in its SMTP call
            assert time.monotonic() < deadline, "the email activity never reached the SMTP server"
            await asyncio.sleep(0.1)

        interrupted = time.monotonic()
        dev.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(dev.wait(), timeout=60)
        took = time.monotonic() - interrupted
        print(f"billflow dev stopped {took:.1f}s after Ctrl-C")
        assert took < 10, f"stopped {took:.1f}s after Ctrl-C"
        assert code == 0
    finally:
        if dev.returncode is None:
            dev.kill()
            await dev.wait()
