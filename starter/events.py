"""`billflow events send FILE`: post a booking event the way an integration does (signed), to try the flow by
hand against the running API; or `--direct` to handle it in-process through the same service."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import typer
from pydantic import TypeAdapter
from rich.markup import escape
from rich.table import Table

from billflow.config import get_settings
from billflow.services import booking_events, integrations
from models.booking_events import BookingEventIn, EventAccepted
from starter.common import JsonOption, console, database, fail, print_json, run, temporal_client

app = typer.Typer(no_args_is_help=True)


@app.command("send")
def send(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The event as JSON."),
    integration: str = typer.Option(..., "--integration", "-i", help="The integration that signs the event."),
    url: str = typer.Option(None, "--url", help="The API's base URL (default BILLFLOW_PUBLIC_URL)."),
    new_id: bool = typer.Option(False, "--new-id", help="Give the event a fresh id (to send a file again)."),
    direct: bool = typer.Option(False, "--direct", help="Handle in-process (needs Temporal, not the API)."),
    as_json: bool = JsonOption,
) -> None:
    """Sign FILE with the integration's secret and post it to /v1/events; print the answer."""
    try:
        event: dict[str, Any] = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        fail(f"{file} is not JSON: {err}", code=2)
    if not isinstance(event, dict):
        fail(f"{file} must hold one JSON object", code=2)
    if new_id or "id" not in event:
        event["id"] = f"evt-{uuid.uuid4().hex[:16]}"
    answer = run(_direct(integration, event) if direct else _post(integration, event, url))
    if as_json:
        print_json(answer)
        return
    table = Table("event", "type", "outcome", "invoice", "status", "workflow id", title="Booking event accepted")
    table.add_row(
        escape(answer.event_id),
        answer.type,
        answer.outcome.value,
        answer.invoice_number or "(pending)",
        answer.invoice_status or "",
        escape(answer.workflow_id or ""),
    )
    console.print(table)


async def _secret(name: str) -> str:
    async with database() as db:
        secret = await integrations.secret_of(db, name)
    if secret is None:
        fail(f"no integration {name!r}; create it with `billflow integration create {name}`")
    return secret


async def _post(name: str, event: dict[str, Any], url: str | None) -> EventAccepted:
    base = (url or get_settings().public_base_url).rstrip("/")
    raw = json.dumps(event).encode()
    headers = integrations.signed_headers(name, await _secret(name), raw) | {"Content-Type": "application/json"}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(f"{base}/v1/events", content=raw, headers=headers)
    except httpx.HTTPError as err:
        fail(f"cannot reach the API at {base} ({err}); is `billflow api` or `billflow dev` running?")
    if response.status_code != 202:
        fail(f"the API answered {response.status_code}: {response.text}")
    return EventAccepted.model_validate(response.json())


async def _direct(name: str, event: dict[str, Any]) -> EventAccepted:
    settings = get_settings()
    parsed = TypeAdapter(BookingEventIn).validate_python(event)  # a ValidationError becomes exit code 2
    await _secret(name)
    client = await temporal_client(settings)
    async with database(settings) as db:
        try:
            answer, _ = await booking_events.handle_event(db, client, settings, integration=name, event=parsed)
        except booking_events.EventIdReused as err:
            fail(str(err))
    return answer
