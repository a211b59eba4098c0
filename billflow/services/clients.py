"""Client records for staff: search, detail with balances, merged timeline, notes, and reminder settings.

Reminder settings apply in two places: `effective_reminder_policy` is consulted when a booking's invoice is
started (so a new invoice follows the client's policy), and `update_reminder_settings` signals the client's
running invoice workflows when reminders are switched off (paused, auto-pay) or on again for the whole client.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.db import Database
from billflow.reporting import end_of_day, today_in
from billflow.repositories import clients as clients_repo
from billflow.repositories import timeline as timeline_repo
from billflow.repositories import workspaces as workspaces_repo
from models.client_settings import ClientSettings
from models.clients import Client
from models.columns import DEFAULT_WORKSPACE_ID
from models.workflow_io import BookingIn, PauseReminders, PaymentReceived, ReminderPolicy, ResumeReminders

if TYPE_CHECKING:  # the Temporal side is imported where it is used: listing clients needs none of it
    from temporalio.client import Client as TemporalClient
    from temporalio.client import WorkflowHandle

log = logging.getLogger(__name__)


class ClientNotFound(LookupError):
    pass


class AmbiguousClient(LookupError):
    """Several sources use this external id: the caller must say which (`source`)."""


class Balance(BaseModel):
    currency: str
    invoiced_minor: int
    paid_minor: int
    balance_minor: int
    overdue_minor: int
    open_invoices: int


class ClientSummary(BaseModel):
    external_id: str
    source: str = Field(description='whose client: "staff" or "integration:{name}"')
    name: str
    email: str
    timezone: str
    email_bounced: bool
    balances: list[Balance] = Field(default_factory=list)


class ReminderSettings(BaseModel):
    """What staff may set per client; a client without settings gets the business defaults."""

    reminders_paused: bool = False
    auto_pay: bool = Field(default=False, description="charged automatically: no reminders at all")
    reminder_policy: ReminderPolicy | None = Field(default=None, description="None: the default policy")

    @property
    def reminders_off(self) -> bool:
        """No reminders at all for this client's invoices: paused by staff, or paid automatically."""
        return self.reminders_paused or self.auto_pay


class ReminderSettingsChange(BaseModel):
    """A partial update: fields left out keep their value; `clear_policy` returns to the default policy."""

    reminders_paused: bool | None = None
    auto_pay: bool | None = None
    reminder_policy: ReminderPolicy | None = None
    clear_policy: bool = False


class InvoiceSummary(BaseModel):
    number: str
    status: str
    currency: str
    total_minor: int
    amount_paid_minor: int
    balance_minor: int
    issue_date: date
    due_date: date
    reminders_paused: bool


class PaymentSummary(BaseModel):
    invoice_number: str
    kind: str
    provider: str
    method: str
    amount_minor: int
    currency: str
    received_at: datetime
    note: str | None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str  # invoice.issued, payment.received, email.reminder, invoice.paused, note.added, ...
    invoice_number: str | None
    amount_minor: int | None
    currency: str | None
    status: str | None  # the invoice's status, or an email's delivery state
    message: str


class ClientDetail(ClientSummary):
    settings: ReminderSettings
    invoices: list[InvoiceSummary]
    payments: list[PaymentSummary]


class SettingsOutcome(BaseModel):
    settings: ReminderSettings
    signalled: list[str] = Field(default_factory=list, description="invoice numbers whose workflow was signalled")


# --- reading --------------------------------------------------------------------------------------


async def require_client(
    session: AsyncSession, external_id: str, *, source: str | None = None, workspace_id: int | None = None
) -> Client:
    """The client with this external id; `source` is needed only when several sources use the id. With
    `workspace_id` (an API key's), only that workspace's clients exist."""
    found = await clients_repo.find_clients(session, external_id=external_id, source=source, workspace_id=workspace_id)
    if not found:
        raise ClientNotFound(
            f"no client with external id {external_id!r}" + (f" from source {source!r}" if source else "")
        )
    if len(found) > 1:
        sources = ", ".join(c.source for c in found)
        raise AmbiguousClient(f"external id {external_id!r} is used by several sources ({sources}): give the source")
    return found[0]


async def list_clients(
    session: AsyncSession,
    *,
    query: str | None = None,
    limit: int = 50,
    offset: int = 0,
    zone: str = "UTC",
    workspace_id: int | None = None,
) -> list[ClientSummary]:
    """`zone`: the reporting time zone, whose "today" decides what is past due (as in every report);
    `workspace_id`: only that workspace's clients (None: every workspace's)."""
    clients = await clients_repo.search_clients(
        session, query=query, limit=limit, offset=offset, workspace_id=workspace_id
    )
    by_client = await _balances(session, [c.id for c in clients if c.id is not None], zone)
    return [_summary(c, by_client.get(c.id or 0, [])) for c in clients]


async def client_detail(
    session: AsyncSession,
    external_id: str,
    *,
    limit: int = 100,
    source: str | None = None,
    zone: str = "UTC",
    workspace_id: int | None = None,
) -> ClientDetail:
    client = await require_client(session, external_id, source=source, workspace_id=workspace_id)
    assert client.id is not None
    balances = (await _balances(session, [client.id], zone)).get(client.id, [])
    invoices = await clients_repo.client_invoices(session, client_id=client.id, limit=limit)
    payments = await clients_repo.client_payments(session, client_id=client.id, limit=limit)
    return ClientDetail(
        **_summary(client, balances).model_dump(),
        settings=await reminder_settings(session, client.id),
        invoices=[
            InvoiceSummary(**i.model_dump(include=set(InvoiceSummary.model_fields)), balance_minor=i.balance_minor)
            for i in invoices
        ],
        payments=[
            PaymentSummary(invoice_number=number, **payment.model_dump(include=set(PaymentSummary.model_fields)))
            for payment, number in payments
        ],
    )


async def client_timeline(
    session: AsyncSession,
    external_id: str,
    *,
    limit: int = 200,
    source: str | None = None,
    workspace_id: int | None = None,
) -> list[TimelineEntry]:
    client = await require_client(session, external_id, source=source, workspace_id=workspace_id)
    assert client.id is not None
    rows = await clients_repo.client_timeline(session, client_id=client.id, limit=limit)
    return [TimelineEntry.model_validate(r._mapping) for r in rows]


async def _balances(session: AsyncSession, client_ids: Sequence[int], zone: str) -> dict[int, list[Balance]]:
    result: dict[int, list[Balance]] = {}
    if not client_ids:
        return result
    due_before = end_of_day(today_in(zone), zone)
    for row in await clients_repo.balances(session, client_ids=client_ids, due_before=due_before):
        result.setdefault(row.client_id, []).append(Balance.model_validate(row._mapping))
    return result


def _summary(client: Client, balances: list[Balance]) -> ClientSummary:
    return ClientSummary(
        external_id=client.external_id,
        source=client.source,
        name=client.name,
        email=client.email,
        timezone=client.timezone,
        email_bounced=client.email_bounced,
        balances=balances,
    )


# --- notes ----------------------------------------------------------------------------------------


async def add_note(
    session: AsyncSession,
    external_id: str,
    *,
    text: str,
    author: str,
    source: str | None = None,
    workspace_id: int | None = None,
) -> TimelineEntry:
    """A staff note on the client's timeline (kind `note.added`)."""
    body = text.strip()
    if not body:
        raise ValueError("note text must not be empty")
    client = await require_client(session, external_id, source=source, workspace_id=workspace_id)
    assert client.id is not None
    await timeline_repo.add_event(
        session, client_id=client.id, kind="note.added", message=body[:2000], data={"author": author}
    )
    return TimelineEntry(
        at=datetime.now(UTC),
        kind="note.added",
        invoice_number=None,
        amount_minor=None,
        currency=None,
        status=None,
        message=body[:2000],
    )


# --- reminder settings ----------------------------------------------------------------------------


async def reminder_settings(session: AsyncSession, client_id: int) -> ReminderSettings:
    row = await clients_repo.get_client_settings(session, client_id=client_id)
    if row is None:
        return ReminderSettings()
    policy = ReminderPolicy.model_validate(row.reminder_policy) if row.reminder_policy else None
    return ReminderSettings(reminders_paused=row.reminders_paused, auto_pay=row.auto_pay, reminder_policy=policy)


async def effective_reminder_policy(
    session: AsyncSession,
    client_external_id: str,
    default: ReminderPolicy,
    *,
    source: str,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> ReminderPolicy:
    """The policy a new invoice for this client runs: none for auto-pay, else the client's own, else default.

    Call it where a booking's invoice workflow is started, before `invoice_runs.start_invoice`. A client
    that is not in the database yet has no settings, so it gets `default`.
    """
    client = await clients_repo.get_client(
        session, external_id=client_external_id, source=source, workspace_id=workspace_id
    )
    if client is None or client.id is None:
        return default
    settings = await reminder_settings(session, client.id)
    if settings.auto_pay:
        return ReminderPolicy(steps=[], send_hour=default.send_hour)
    return settings.reminder_policy or default


async def reminders_paused_for(
    session: AsyncSession, client_external_id: str, *, source: str, workspace_id: int = DEFAULT_WORKSPACE_ID
) -> bool:
    """True if staff paused every reminder of this client: a newly started invoice must be paused too."""
    client = await clients_repo.get_client(
        session, external_id=client_external_id, source=source, workspace_id=workspace_id
    )
    if client is None or client.id is None:
        return False
    return (await reminder_settings(session, client.id)).reminders_paused


async def pause_new_invoice_if_client_paused(
    db: Database, temporal: TemporalClient, *, client_external_id: str, source: str, workflow_id: str
) -> bool:
    """Call right after starting an invoice workflow: a paused client's new invoice starts paused.

    The action id is derived from the workflow id, so a repeated call (a replayed booking event) is applied
    once. True if the pause was signalled.
    """
    from billflow.services import invoice_runs

    async with db.session() as session:
        paused = await reminders_paused_for(session, client_external_id, source=source)
    if paused:
        action = PauseReminders(action_id=f"client-pause-{workflow_id}"[-64:], actor="client settings")
        await invoice_runs.send_action(temporal, workflow_id, action)
    return paused


async def start_client_invoice(
    session: AsyncSession,
    temporal: TemporalClient,
    booking: BookingIn,
    *,
    task_queue: str,
    paid_with: PaymentReceived | None = None,
) -> WorkflowHandle:
    """Start a booking's invoice with the client's reminder settings applied: every path that turns a booking
    into an invoice (booking events, Cal.com, the CLI) goes through here (or its two halves below).

    A policy the booking states itself is kept, except for auto-pay clients, who get no reminders; a client
    whose reminders staff paused gets the new invoice paused too.
    """
    prepared = await prepare_client_invoice(session, booking)
    return await launch_client_invoice(temporal, prepared, task_queue=task_queue, paid_with=paid_with)


class PreparedInvoice(BaseModel):
    """A booking with the client's reminder settings applied, ready to start (no database needed any more)."""

    booking: BookingIn
    paused: bool


async def prepare_client_invoice(session: AsyncSession, booking: BookingIn) -> PreparedInvoice:
    """The database half of `start_client_invoice`: read the client's reminder settings."""
    # One read of the client and one of its settings (intake runs this for every booking): the same rules as
    # `effective_reminder_policy` and `reminders_paused_for`.
    client = await clients_repo.get_client(
        session, external_id=booking.client.external_id, source=booking.client_owner, workspace_id=booking.workspace_id
    )
    settings = await reminder_settings(session, client.id) if client is not None and client.id else ReminderSettings()
    if "reminder_policy" not in booking.model_fields_set or settings.auto_pay:
        default = booking.reminder_policy
        if "reminder_policy" not in booking.model_fields_set:  # the booking names none: its workspace's default
            stored = await workspaces_repo.reminder_policy_of(session, workspace_id=booking.workspace_id)
            default = ReminderPolicy.model_validate(stored) if stored else default
        policy = ReminderPolicy(steps=[], send_hour=default.send_hour) if settings.auto_pay else None
        booking = booking.model_copy(update={"reminder_policy": policy or settings.reminder_policy or default})
    return PreparedInvoice(booking=booking, paused=settings.reminders_paused)


async def launch_client_invoice(
    temporal: TemporalClient, prepared: PreparedInvoice, *, task_queue: str, paid_with: PaymentReceived | None = None
) -> WorkflowHandle:
    """The Temporal half: start the workflow (idempotent by its id) and pause it for a paused client."""
    from billflow.services import invoice_runs

    booking = prepared.booking
    handle = await invoice_runs.start_invoice(temporal, booking, task_queue=task_queue, paid_with=paid_with)
    if prepared.paused:
        # handle.id: the run's id, which for a run started before workspaces is not booking.workflow_id.
        action = PauseReminders(action_id=f"client-pause-{handle.id}"[-64:], actor="client settings")
        await invoice_runs.send_action(temporal, handle.id, action)
    return handle


class ReminderSignals(BaseModel):
    """The running invoices a settings change must reach: paused (pause=True) or resumed."""

    pause: bool
    invoices: list[tuple[str, str]] = Field(default_factory=list)  # (number, workflow id)


async def save_reminder_settings(
    db: Database,
    external_id: str,
    change: ReminderSettingsChange,
    *,
    actor: str,
    source: str | None = None,
    workspace_id: int | None = None,
) -> tuple[ReminderSettings, ReminderSignals]:
    """Save the settings with a timeline event (one transaction); return which open invoices to signal.

    Reminders are off for a client that is paused or on auto-pay. When that turns on, every open invoice whose
    reminders run is to be paused; when it turns off, every paused one is to be resumed.
    """
    async with db.session() as session:
        client = await require_client(session, external_id, source=source, workspace_id=workspace_id)
        assert client.id is not None
        before = await reminder_settings(session, client.id)
        after = ReminderSettings(
            reminders_paused=before.reminders_paused if change.reminders_paused is None else change.reminders_paused,
            auto_pay=before.auto_pay if change.auto_pay is None else change.auto_pay,
            reminder_policy=None if change.clear_policy else (change.reminder_policy or before.reminder_policy),
        )
        await clients_repo.save_client_settings(
            session,
            settings=ClientSettings(
                client_id=client.id,
                reminders_paused=after.reminders_paused,
                auto_pay=after.auto_pay,
                reminder_policy=after.reminder_policy.model_dump(mode="json") if after.reminder_policy else None,
            ),
        )
        await timeline_repo.add_event(
            session,
            client_id=client.id,
            kind="client.settings_changed",
            message=_describe(before, after),
            data={"actor": actor},
        )
        signals = ReminderSignals(pause=after.reminders_off)
        if after.reminders_off != before.reminders_off:
            rows = await clients_repo.unsettled_workflows(
                session, client_id=client.id, reminders_paused=not after.reminders_off
            )
            signals.invoices = [(r.number, r.workflow_id) for r in rows]
    return after, signals


async def signal_reminder_change(temporal: TemporalClient, signals: ReminderSignals, *, actor: str) -> list[str]:
    """Send PauseReminders or ResumeReminders to each invoice; one that finished meanwhile is skipped.

    Returns the numbers of the invoices signalled.
    """
    from billflow.services import invoice_runs

    signalled = []
    for number, workflow_id in signals.invoices:
        action = (
            PauseReminders(actor=actor, note="reminders off for the client")
            if signals.pause
            else ResumeReminders(actor=actor, note="reminders on again for the client")
        )
        try:
            await invoice_runs.send_action(temporal, workflow_id, action)
        except invoice_runs.WorkflowClosed:
            log.info("invoice %s finished before the client-wide reminder change reached it", number)
            continue
        signalled.append(number)
    return signalled


async def update_reminder_settings(
    db: Database,
    temporal: TemporalClient,
    external_id: str,
    change: ReminderSettingsChange,
    *,
    actor: str,
    source: str | None = None,
    workspace_id: int | None = None,
) -> SettingsOutcome:
    """Save the settings, then bring the client's running invoices in line (see save_reminder_settings)."""
    settings, signals = await save_reminder_settings(
        db, external_id, change, actor=actor, source=source, workspace_id=workspace_id
    )
    signalled = await signal_reminder_change(temporal, signals, actor=actor)
    return SettingsOutcome(settings=settings, signalled=signalled)


def _describe(before: ReminderSettings, after: ReminderSettings) -> str:
    changes = []
    if before.reminders_paused != after.reminders_paused:
        changes.append("reminders paused" if after.reminders_paused else "reminders resumed")
    if before.auto_pay != after.auto_pay:
        changes.append("auto-pay on (no reminders)" if after.auto_pay else "auto-pay off")
    if before.reminder_policy != after.reminder_policy:
        changes.append("own reminder policy set" if after.reminder_policy else "default reminder policy")
    return "Reminder settings: " + (", ".join(changes) or "unchanged")
