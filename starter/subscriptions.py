"""`billflow subscription ...`: create, list, show, pause, resume, cancel, change and trigger recurring billing.

The actions call billflow.services.subscription_actions (billflow.runs.subscriptions to create), the same functions
the API and the staff app use, imported when such a command runs. `list` and `show` read through psycopg alone
(starter/reads/subscriptions.py): the service's module brings the runs, temporalio and Stripe (issue 11, item 15).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from models.subscription_io import (
    CancelSubscription,
    ChangePlan,
    IntervalKind,
    PauseSubscription,
    ResumeSubscription,
    SubscriptionAction,
    SubscriptionIn,
    SubscriptionStatus,
    SubscriptionView,
    TriggerBilling,
)
from models.workflow_io import LineIn
from models.workspace_ids import DEFAULT_WORKSPACE_ID
from starter import common
from starter.common import JsonOption, console, database, fail, format_money, print_json, run, temporal_client

app = typer.Typer(no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="Subscription id, e.g. sub-3f2a9c...")]
NoteOption = Annotated[str | None, typer.Option(help="A note kept on the client's timeline.")]
LineOption = Annotated[
    list[str] | None,
    typer.Option(
        "--line",
        help='A plan line "description=unit_price_minor[xquantity]", e.g. "Retainer=50000" or "Coaching=9000x2". '
        "Repeat for several lines.",
    ),
]
STATUS_STYLE = {
    SubscriptionStatus.active: "green",
    SubscriptionStatus.paused: "yellow",
    SubscriptionStatus.cancelled: "dim",
    SubscriptionStatus.ended: "cyan",
}


def parse_line(text: str) -> LineIn:
    description, sep, amount = text.rpartition("=")
    if not sep or not description.strip():
        fail(f"--line {text!r}: expected description=unit_price_minor[xquantity]", code=2)
    price, _, quantity = amount.partition("x")
    try:
        return LineIn(
            description=description.strip(),
            unit_price_minor=int(price),
            quantity=Decimal(quantity) if quantity else Decimal(1),
        )
    except (ValueError, InvalidOperation):
        fail(f"--line {text!r}: the price must be whole minor units and the quantity a number", code=2)


@app.command()
def create(
    file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="A subscription JSON (the API's body).")
    ] = None,
    client_id: Annotated[str | None, typer.Option("--client", help="The client's external id.")] = None,
    name: Annotated[str | None, typer.Option(help="The client's name.")] = None,
    email: Annotated[str | None, typer.Option(help="The client's email address.")] = None,
    timezone: Annotated[str, typer.Option(help="The client's IANA time zone.")] = "UTC",
    line: LineOption = None,
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "USD",
    interval: Annotated[IntervalKind, typer.Option(help="weekly, monthly, quarterly, yearly or cron.")] = (
        IntervalKind.monthly
    ),
    every: Annotated[int, typer.Option(min=1, max=52, help="Every N weeks / months / quarters / years.")] = 1,
    day_of_month: Annotated[int | None, typer.Option(min=1, max=31, help="Anchor day (monthly and up).")] = None,
    cron: Annotated[str | None, typer.Option(help='With --interval cron: e.g. "0 9 1 * *".')] = None,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (default: today).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day of service, YYYY-MM-DD.")] = None,
    cycles: Annotated[int | None, typer.Option(min=1, help="Bill this many periods, then end.")] = None,
    terms_days: Annotated[int, typer.Option(min=0, max=366, help="Payment terms in days.")] = 14,
    issue_hour: Annotated[int, typer.Option(min=0, max=23, help="Local hour invoices go out.")] = 9,
    subscription_id: Annotated[str | None, typer.Option("--id", help="Your own id (makes create repeatable).")] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="The workspace (slug) it bills for; default: the first.")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Create a subscription and start its billing workflow (from --file, or from the options)."""
    if file is not None:
        try:
            raw: Any = json.loads(file.read_text())
        except json.JSONDecodeError as err:
            fail(f"{file} is not valid JSON: {err}", code=2)
    else:
        missing = [flag for flag, value in (("--client", client_id), ("--name", name), ("--email", email)) if not value]
        if missing or not line:
            fail(f"give --file, or {', '.join([*missing, *([] if line else ['--line'])])}", code=2)
        raw = {
            "subscription_id": subscription_id,
            "client": {"external_id": client_id, "name": name, "email": email, "timezone": timezone},
            "lines": [parse_line(text).model_dump(mode="json") for text in line or []],
            "currency": currency,
            "interval": {"kind": interval.value, "every": every, "day_of_month": day_of_month, "cron": cron},
            "start_date": start or date.today().isoformat(),
            "end_date": end,
            "max_cycles": cycles,
            "payment_terms": timedelta(days=terms_days).total_seconds(),
            "issue_hour": issue_hour,
        }
    run(_create(raw, as_json, workspace))


async def _create(raw: Any, as_json: bool, workspace: str | None = None) -> None:
    from billflow.runs import subscriptions as subscription_runs
    from billflow.services import subscriptions as service
    from billflow.services import workspaces

    data = SubscriptionIn.model_validate(raw)  # inside run(): a validation error is a message and exit 2
    settings = common.get_settings()
    async with database(settings) as db:
        workspace_id = DEFAULT_WORKSPACE_ID
        if workspace is not None:
            try:
                workspace_id = (await workspaces.get_workspace(db, workspace)).id
            except workspaces.WorkspaceNotFound as err:
                fail(f"--workspace: {err}", code=2)
        client = await temporal_client(settings)
        try:
            view = await subscription_runs.create_and_start(
                db,
                client,
                data,
                task_queue=settings.task_queue,
                max_backfill_periods=settings.subscription_max_backfill_periods,
                actor="cli",
                workspace_id=workspace_id,
            )
        except service.SubscriptionConflict as err:
            fail(str(err))
        except service.BackfillTooLong as err:
            fail(str(err), code=2)
    _print_view(view, as_json)


@app.command("list")
def list_subscriptions(
    status: Annotated[SubscriptionStatus | None, typer.Option(help="Only subscriptions in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    as_json: bool = JsonOption,
) -> None:
    """The newest subscriptions."""
    from pydantic_core import to_jsonable_python

    from starter import reads
    from starter.reads import subscriptions as subscription_reads

    with reads.connection() as conn:  # psycopg alone; the rows have SubscriptionSummary's keys
        subs = subscription_reads.subscriptions(conn, status=status.value if status else None, limit=limit)
    if as_json:
        print_json(to_jsonable_python(subs))  # what the summaries' model_dump(mode="json") gives
        return
    _print_list(subs)


def _print_list(subs: list[dict[str, Any]]) -> None:
    table = Table(title=f"Subscriptions ({len(subs)})", header_style="bold")
    for column in ("Id", "Client", "Interval", "Status", "Billed", "Next period"):
        table.add_column(column)
    for sub in subs:
        table.add_row(
            sub["subscription_id"],
            escape(sub["client_name"]),
            sub["schedule"],
            _styled(sub["status"]),
            str(sub["periods_billed"]),
            sub["next_period_start"].isoformat() if sub["next_period_start"] else "-",
        )
    console.print(table)


@app.command()
def show(subscription_id: IdArg, as_json: bool = JsonOption) -> None:
    """One subscription: schedule, plan versions, every period and its invoice."""
    from starter import reads
    from starter.reads import subscriptions as subscription_reads

    # psycopg alone, the service's SubscriptionView from its rows; a stored row that no longer validates is a
    # message and exit 2, as it was through the service.
    with reads.connection() as conn, common.validation_failures():
        view = subscription_reads.subscription_view(conn, subscription_id=subscription_id)
    if view is None:
        fail(f"subscription {subscription_id} does not exist")  # services.subscriptions.SubscriptionNotFound's words
    _print_view(view, as_json)


@app.command()
def pause(subscription_id: IdArg, note: NoteOption = None, as_json: bool = JsonOption) -> None:
    """Pause: periods that start while paused are skipped (not billed later)."""
    run(_act(subscription_id, PauseSubscription(actor="cli", note=note), as_json))


@app.command()
def resume(subscription_id: IdArg, note: NoteOption = None, as_json: bool = JsonOption) -> None:
    """Resume: billing continues from the next period."""
    run(_act(subscription_id, ResumeSubscription(actor="cli", note=note), as_json))


@app.command()
def cancel(subscription_id: IdArg, note: NoteOption = None, as_json: bool = JsonOption) -> None:
    """Cancel: the current period stays billed, nothing after it is."""
    run(_act(subscription_id, CancelSubscription(actor="cli", note=note), as_json))


@app.command()
def change(
    subscription_id: IdArg, line: LineOption = None, note: NoteOption = None, as_json: bool = JsonOption
) -> None:
    """New plan lines, billed from the next period on."""
    if not line:
        fail("give at least one --line", code=2)
    lines = [parse_line(text) for text in line]
    run(_act(subscription_id, ChangePlan(lines=lines, actor="cli", note=note), as_json))


@app.command()
def trigger(
    subscription_id: IdArg,
    period: Annotated[str | None, typer.Option(help="The period's first day, YYYY-MM-DD (default: current).")] = None,
    note: NoteOption = None,
    as_json: bool = JsonOption,
) -> None:
    """Bill a period now; a period already billed is not billed again."""
    try:
        day = date.fromisoformat(period) if period else None
    except ValueError:
        fail(f"--period {period!r}: expected YYYY-MM-DD", code=2)
    run(_act(subscription_id, TriggerBilling(period_start=day, actor="cli", note=note), as_json))


async def _act(subscription_id: str, action: SubscriptionAction, as_json: bool) -> None:
    from billflow.services import subscription_actions as actions

    settings = common.get_settings()
    async with database(settings) as db:
        client = await temporal_client(settings)
        try:
            view = await actions.act(db, client, subscription_id=subscription_id, action=action)
        except (actions.SubscriptionNotFound, actions.ActionRefused) as err:
            fail(str(err))
    _print_view(view, as_json)


def _styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(SubscriptionStatus(status), 'white')}]{status}[/]"


def _interval_text(interval: dict[str, Any]) -> str:
    from models.subscription_io import interval_text

    return interval_text(interval)


def _print_view(view: SubscriptionView, as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    money = lambda minor: format_money(minor, view.currency)  # noqa: E731
    console.print(f"[bold]{view.subscription_id}[/]  {_styled(view.status)}  workflow {view.workflow_id}")
    console.print(
        f"Client: {escape(view.client_name)} ({view.client_external_id}, {view.timezone}); "
        f"{_interval_text(view.interval.model_dump())} from {view.start_date}"
        + (f" to {view.end_date}" if view.end_date else "")
        + (f", {view.max_cycles} cycles" if view.max_cycles else "")
    )
    console.print(
        f"Billed {view.periods_billed}, skipped {view.periods_skipped}; next period "
        f"{view.next_period_start or '-'}"
        + (f"; last day of service {view.ends_on}" if view.ends_on else "")
        + f"; unpaid {money(view.balance_minor)}"
    )
    plans = Table("From", "Lines", title="Plan", header_style="bold")
    for plan in view.plans:
        described = ", ".join(
            f"{escape(x.description)} {x.quantity.normalize()} x {money(x.unit_price_minor)}" for x in plan.lines
        )
        plans.add_row(plan.effective_from.isoformat(), described)
    console.print(plans)
    if view.periods:
        table = Table("#", "Period", "Outcome", "Invoice", "Total", "Status", title="Periods", header_style="bold")
        for p in view.periods:
            table.add_row(
                str(p.index + 1),
                f"{p.period_start} to {p.period_end}",
                p.outcome.value,
                p.invoice_number or "-",
                money(p.total_minor) if p.total_minor is not None else "-",
                p.invoice_status or "-",
            )
        console.print(table)
