"""What every scenario receives: the suite's own PostgreSQL, a scratch directory, and the run's size."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.chaos.processes import OwnedPostgres


@dataclass
class SuiteContext:
    postgres: OwnedPostgres
    work_dir: Path
    short: bool
    used_dirs: list[Path] = field(default_factory=list)  # the current scenario's folders (its logs, for a failure)

    def scenario_dir(self, name: str) -> Path:
        path = self.work_dir / name
        path.mkdir(parents=True, exist_ok=True)
        self.used_dirs.append(path)
        return path
