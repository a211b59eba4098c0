"""`billflow portal ...`: email a client a magic link to their portal, and revoke links."""

from __future__ import annotations

from typing import Annotated

import typer

from billflow.config import get_settings
from billflow.services import portal
from starter.common import JsonOption, console, database, fail, print_json, run

app = typer.Typer(no_args_is_help=True)


@app.command()
def link(
    external_id: Annotated[str, typer.Argument(help="The client's external id.")],
    days: Annotated[int, typer.Option(min=1, max=portal.MAX_DAYS, help="Days until the link expires.")] = 7,
    source: Annotated[
        str | None, typer.Option(help='Whose client ("staff", "integration:NAME"), when several sources use the id.')
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Email the client a magic link (no password) to all their invoices and payments."""
    run(_link(external_id, days, source, as_json))


async def _link(external_id: str, days: int, source: str | None, as_json: bool) -> None:
    settings = get_settings()
    async with database(settings) as db:
        try:
            issued = await portal.issue_link(db, settings, external_id=external_id, source=source, days=days)
        except portal.ClientNotFound as err:
            fail(str(err))
    if as_json:
        print_json(
            {
                "link_id": issued.link_id,
                "url": issued.url,
                "expires_at": issued.expires_at.isoformat(),
                "message_id": issued.message_id,
            }
        )
        return
    console.print(f"Link {issued.link_id} emailed, valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC: {issued.url}")


@app.command()
def revoke(link_id: Annotated[int, typer.Argument(help="The link's id (from `portal link`).")]) -> None:
    """Revoke a portal link at once."""
    run(_revoke(link_id))


async def _revoke(link_id: int) -> None:
    async with database() as db:
        if not await portal.revoke_link(db, link_id=link_id):
            fail(f"no portal link {link_id}")
    console.print(f"Portal link {link_id} revoked")
