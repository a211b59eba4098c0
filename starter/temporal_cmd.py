"""`billflow temporal ...`: prepare a Temporal namespace (any cluster: dev server, self-hosted, Temporal Cloud)."""

from __future__ import annotations

import typer

from billflow.config import get_settings
from starter.common import JsonOption, console, fail, print_json, run, temporal_client
from workflows.search_attributes import ALL_KEYS

app = typer.Typer(no_args_is_help=True)


@app.command()
def setup(json_output: bool = JsonOption) -> None:
    """Register billflow's search attributes on the namespace (idempotent: existing ones are left alone).

    Connects like the worker does (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS settings or a
    temporal.toml profile). If the cluster refuses (Temporal Cloud may not allow it through the operator API), add
    them once in the Cloud UI or with `tcld namespace search-attributes add`.
    """
    from temporalio.service import RPCError

    from billflow.temporal import ensure_search_attributes

    settings = get_settings()

    async def _setup() -> tuple[str, list[str]]:
        client = await temporal_client(settings)
        try:
            return client.namespace, await ensure_search_attributes(client, client.namespace)
        except RPCError as err:
            fail(f"could not register search attributes on {client.namespace!r}: {err.message}")

    namespace, added = run(_setup())
    kinds = {key.name: key.indexed_value_type.name.title().replace("_", "") for key in ALL_KEYS}
    if json_output:
        print_json({"namespace": namespace, "added": added, "search_attributes": kinds})
        return
    for name, kind in kinds.items():
        state = "[green]added[/]" if name in added else "[dim]already registered[/]"
        console.print(f"{name:<16} {kind:<10} {state}")
