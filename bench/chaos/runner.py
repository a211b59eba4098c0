"""Runs the scenarios in order, each in its own processes, and prints each row and the summary table."""

from __future__ import annotations

import importlib
import shutil
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.chaos.context import SuiteContext
from bench.chaos.processes import OwnedPostgres
from bench.chaos.report import ScenarioResult, console, summary_table

# A failed scenario's logs are copied here (the suite's own folder is a temporary one, removed at the end).
FAILED_LOGS = Path(tempfile.gettempdir()) / "billflow-chaos-failures"
# scenario name on the command line -> module under bench/chaos/scenarios
SCENARIOS = {
    "worker-crash": "worker_crash",
    "database-restart": "database_restart",
    "temporal-restart": "temporal_restart",
    "temporal-down": "temporal_down",
    "provider-faults": "provider_faults",
    "webhooks": "webhooks",
    "load": "load",
    "hostile-input": "hostile_input",
    "authorization": "authorization",
    "client-answers": "client_answers",
}


async def run_scenario(name: str, ctx: SuiteContext, *, kept: bool = False) -> ScenarioResult:
    module = importlib.import_module(f"bench.chaos.scenarios.{SCENARIOS[name]}")
    ctx.used_dirs.clear()
    began = time.monotonic()
    try:
        result: ScenarioResult = await module.run(ctx)
    except Exception as err:  # a crashed scenario is a failed row, and the others still run
        result = ScenarioResult(getattr(module, "NAME", name), problems=[f"scenario crashed: {err!r}"])
        console.print(traceback.format_exc(), highlight=False, markup=False)
    result.seconds = result.seconds or time.monotonic() - began
    result.print_row()
    if not result.ok:
        folder = ctx.work_dir if kept else keep_logs(name, ctx.used_dirs)
        console.print(f"[bold]{name}[/]: logs (worker, web app, Temporal: stdout and stderr) in {folder}")
        result.notes.append(f"logs kept in {folder}")
    return result


def keep_logs(name: str, dirs: list[Path]) -> Path:
    """Copy the scenario's logs and ledgers (not its databases) to a folder that outlives the run."""
    target = FAILED_LOGS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{name}"
    for source in dirs:
        if source.exists():
            shutil.copytree(
                source, target / source.name, ignore=shutil.ignore_patterns("postgres", "*.sqlite*"), dirs_exist_ok=True
            )
    target.mkdir(parents=True, exist_ok=True)
    return target


async def run_suite(names: list[str], *, short: bool, keep_dir: Path | None = None) -> list[ScenarioResult]:
    with tempfile.TemporaryDirectory(prefix="billflow-chaos-") as tmp:
        work_dir = keep_dir or Path(tmp)
        work_dir.mkdir(parents=True, exist_ok=True)
        postgres = OwnedPostgres(work_dir / "postgres")
        try:
            ctx = SuiteContext(postgres=postgres, work_dir=work_dir, short=short)
            results = [await run_scenario(name, ctx, kept=keep_dir is not None) for name in names]
        finally:
            postgres.close()
    title = f"bench/chaos.py ({'short' if short else 'full'}): zero duplicates and zero losses expected"
    console.print(summary_table(results, title=title))
    return results
