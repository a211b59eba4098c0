"""The chaos harness itself: the web app's port cannot be taken before it binds, a start-up that dies says why,
a failed scenario keeps its logs, and an email an open run still owes is called late, not lost."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bench.chaos.invariants import Verdict
from bench.chaos.processes import ApiProcess
from bench.chaos.runner import keep_logs


def test_the_web_app_port_is_held_from_the_start(tmp_path: Path) -> None:
    api = ApiProcess(tmp_path, {})
    try:
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", api.port))  # nobody else can take it before the app serves on it
        assert api.env["CHAOS_API_FD"] == str(api.socket.fileno())
    finally:
        api.close()


def test_a_web_app_that_dies_on_start_is_retried_then_reported_with_its_log(tmp_path: Path) -> None:
    api = ApiProcess(tmp_path, {"DATABASE_URL": "", "BILLFLOW_ENV": "development"})
    api.START_ATTEMPTS = 2
    try:
        with pytest.raises(RuntimeError, match="exited on start") as failed:
            api.start()
    finally:
        api.stop()
        api.close()
    assert api.starts == 2
    assert str(api.log_path) in str(failed.value)
    assert "needs DATABASE_URL" in str(failed.value)  # the end of the log is in the message


def test_a_failed_scenario_keeps_its_logs_without_the_databases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bench.chaos.runner.FAILED_LOGS", tmp_path / "kept")
    scenario = tmp_path / "run" / "worker_crash"
    (scenario / "postgres").mkdir(parents=True)
    for name in ("worker.log", "api.log", "temporal.log", "ledger.jsonl", "temporal.sqlite"):
        (scenario / name).write_text(name)
    kept = keep_logs("worker-crash", [scenario])
    assert sorted(p.name for p in (kept / "worker_crash").iterdir()) == [
        "api.log",
        "ledger.jsonl",
        "temporal.log",
        "worker.log",
    ]


def test_an_email_owed_by_an_open_run_is_unfinished_not_lost() -> None:
    verdict = Verdict()
    verdict.missing("invoice-a: receipt (step None) is claimed (attempts 0) but the provider never got it", owed_by="a")
    verdict.missing("invoice-b: receipt (step None) is claimed (attempts 0) but the provider never got it", owed_by="b")
    assert verdict.only_owed()
    verdict.unfinished({"a"})  # run a is still open; run b closed without sending: lost
    assert verdict.lost == 1
    assert [p.split(":")[0] for p in verdict.problems] == ["lost", "unfinished (its run is still open, retrying)"]
