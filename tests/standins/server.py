"""Run a small ASGI stand-in on a free port in a background thread (its own event loop), with faults to inject."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


@dataclass
class Fault:
    """Answer the next matching request with `status` (and a provider-shaped error), or stall for `delay` s."""

    status: int | None = None
    message: str = "injected fault"
    delay: float = 0.0
    path_contains: str = ""
    # Stripe saves the result of an idempotent request that began executing, a 500 included, and replays it
    # for the same key; True mimics that.
    saved: bool = False
    # The provider executed the request (and saved its success under the key) but the answer was lost on the
    # way back: the client sees `status` instead (Stripe's create honours it).
    answer_lost: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None


class StandIn:
    """Base of the stand-ins: request log, fault queue, and the fault check every handler runs first."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    async def record(self, request: Request) -> Recorded:
        body = await request.body()
        recorded = Recorded(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    async def fault_response(self, request: Request) -> Response | None:
        fault = await self.take_fault(request)
        if fault is None or fault.status is None:
            return None
        return self.error(fault.status, fault.message)

    async def take_fault(self, request: Request) -> Fault | None:
        """The next fault for this request (after its delay), or None."""
        with self._lock:
            fault = next((f for f in self.faults if f.path_contains in request.url.path), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        return fault

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return JSONResponse({"errors": [{"message": message}]}, status_code=status)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:<free port> until the block ends; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("stand-in did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
