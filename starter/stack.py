"""`billflow dev` and `billflow demo` (being written)."""

import typer


def register(app: typer.Typer) -> None:
    pass
