"""The suite's rows and summary table."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

console = Console()


@dataclass
class ScenarioResult:
    scenario: str
    invoices: int = 0
    faults: int = 0
    duplicates: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # figures worth printing (latencies, attempts)
    seconds: float = 0.0
    skipped: str | None = None  # why the scenario could not run (a missing piece)

    @property
    def ok(self) -> bool:
        return self.skipped is None and not self.problems and self.duplicates == 0 and self.lost == 0

    @property
    def result(self) -> str:
        if self.skipped is not None:
            return "SKIPPED"
        return "PASS" if self.ok else "FAIL"

    def print_row(self) -> None:
        colour = {"PASS": "green", "FAIL": "red", "SKIPPED": "yellow"}[self.result]
        console.print(
            f"[bold]{self.scenario}[/]: invoices {self.invoices}, faults injected {self.faults}, "
            f"duplicates {self.duplicates}, lost {self.lost}, "
            f"[{colour}]{self.result}[/] ({self.seconds:.0f} s)"
        )
        for note in self.notes:
            console.print(f"  {note}", highlight=False, markup=False)
        for problem in self.problems[:20]:
            console.print(f"  [red]problem:[/] {problem}", highlight=False)
        if len(self.problems) > 20:
            console.print(f"  ... and {len(self.problems) - 20} more problems")
        if self.skipped:
            console.print(f"  [yellow]skipped:[/] {self.skipped}", highlight=False)


def summary_table(results: list[ScenarioResult], *, title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for column in ("scenario", "invoices", "faults injected", "duplicates", "lost", "result", "seconds"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for r in results:
        colour = {"PASS": "green", "FAIL": "red", "SKIPPED": "yellow"}[r.result]
        table.add_row(
            r.scenario,
            str(r.invoices),
            str(r.faults),
            str(r.duplicates),
            str(r.lost),
            f"[{colour}]{r.result}[/]",
            f"{r.seconds:.0f}",
        )
    return table
