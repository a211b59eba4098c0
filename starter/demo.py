"""`billflow demo`: eight bookings of two businesses through their whole life in about a minute, shown live (one
with a deposit and its final invoice, one voided with its credit note).

The businesses are two workspaces (issue 13): workspace 1, the installation's own (the demo studio in Berlin,
invoicing in EUR, GBP, USD and JPY), and a Danish studio in Copenhagen invoicing in DKK with its own profile,
numbering series (`NORD-00001`, continuous) and sender, whose runs are `WorkspaceId = N` in the Temporal UI.

The reminder policy is in seconds (due 30 s after issue; reminders 15 s before, on the due instant, then 10 s
and 20 s after), so a minute shows what normally takes weeks. Every step is the real thing: workflows on the
Temporal dev server, rows in PostgreSQL, emails in the outbox, the client paying on billflow's own pay page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import func
from sqlmodel import select
from temporalio.client import Client

from billflow.config import Settings
from billflow.db import Database
from billflow.services import deposits, intake, invoice_runs, staff_actions
from models.email_messages import EmailMessage
from models.money import format_money
from models.workflow_io import (
    BookingIn,
    ClientIn,
    DepositIn,
    InvoiceState,
    LineIn,
    MarkPaid,
    PauseReminders,
    ReminderPolicy,
    ReminderStep,
    ResumeReminders,
    VoidInvoice,
)
from starter.common import console
from starter.invoices import styled_status
from starter.stack import DevStack

DEMO_POLICY = ReminderPolicy(
    send_hour=None,  # exact offsets: seconds instead of days
    steps=[
        ReminderStep(offset=timedelta(seconds=-15), template="reminder"),
        ReminderStep(offset=timedelta(seconds=0), template="reminder"),
        ReminderStep(offset=timedelta(seconds=10), template="overdue"),
        ReminderStep(offset=timedelta(seconds=20), template="overdue"),
    ],
)
DEMO_TERMS = timedelta(seconds=30)
TIME_LIMIT = 150  # seconds; the story takes about 55


@dataclass
class Story:
    label: str
    client: ClientIn
    lines: list[LineIn]
    currency: str
    script: Callable[[Story, Demo], Awaitable[None]]
    deposit: DepositIn | None = None
    business: str = "home"  # which demo workspace issues it: "home" (workspace 1) or "nord" (DEMO_STUDIO_NORD)
    booking: BookingIn | None = None
    state: InvoiceState | None = None
    log: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def workflow_id(self) -> str:
        assert self.booking is not None
        return self.booking.workflow_id


class Demo:
    def __init__(self, stack: DevStack) -> None:
        assert stack.db is not None and stack.client is not None
        self.stack = stack
        self.db: Database = stack.db
        self.client: Client = stack.client
        self.started = time.monotonic()

        # Demo business key -> (workspace id, short name), filled by with_demo_workspaces.
        self.businesses: dict[str, tuple[int, str]] = {"home": (1, "workspace 1")}

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def business_label(self, story: Story) -> str:
        workspace_id, name = self.businesses[story.business]
        return f"{name}\n[dim]workspace {workspace_id}[/]"

    async def wait_until(self, story: Story, condition: Callable[[InvoiceState], bool]) -> InvoiceState:
        while True:
            state = await invoice_runs.query_state(self.client, story.workflow_id)
            if state is not None:
                story.state = state
                if condition(state):
                    return state
            await asyncio.sleep(0.25)

    async def staff(self, story: Story, action: MarkPaid | PauseReminders | ResumeReminders | VoidInvoice) -> None:
        assert story.state is not None
        story.state = await staff_actions.perform_action(self.db, self.client, number=story.state.number, action=action)

    async def pay_as_client(self, story: Story) -> None:
        """Open the emailed pay link and press Pay, as the client would."""
        assert story.state is not None and story.state.payment_url is not None
        async with httpx.AsyncClient(base_url=self.stack.web_url, follow_redirects=True, timeout=10) as http:
            path = httpx.URL(story.state.payment_url).path
            page = await http.get(path)
            page.raise_for_status()
            form = PayForm.parse(page.text)
            response = await http.post(form.action or path, data=form.fields)
            response.raise_for_status()


class PayForm(HTMLParser):
    """The first POST form of the pay page: its action and its hidden fields (e.g. the one-time nonce)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    @classmethod
    def parse(cls, html: str) -> PayForm:
        form = cls()
        form.feed(html)
        if not form._in_form and form.action is None:
            raise RuntimeError("the pay page has no payment form")
        return form

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and values.get("method", "").lower() == "post" and self.action is None:
            self._in_form, self.action = True, values.get("action") or None
        elif tag == "input" and self._in_form and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


# --- the stories ------------------------------------------------------------------------------------


async def paid_by_client(story: Story, demo: Demo) -> None:
    await demo.wait_until(story, lambda s: s.issued_email_sent)
    await asyncio.sleep(8)
    story.log.append(f"{demo.elapsed():4.0f}s client opened the pay link and paid")
    await demo.pay_as_client(story)
    await demo.wait_until(story, lambda s: s.status.is_final)


async def marked_paid_by_staff(story: Story, demo: Demo) -> None:
    await demo.wait_until(story, lambda s: s.steps_sent >= 1)
    await asyncio.sleep(2)
    story.log.append(f"{demo.elapsed():4.0f}s staff: bank transfer arrived, mark paid")
    await demo.staff(story, MarkPaid(method="bank_transfer", note="Seen on the bank statement", actor="demo"))
    await demo.wait_until(story, lambda s: s.status.is_final)


async def paused_and_resumed(story: Story, demo: Demo) -> None:
    await demo.wait_until(story, lambda s: s.issued_email_sent)
    await asyncio.sleep(4)
    story.log.append(f"{demo.elapsed():4.0f}s staff paused reminders (client on holiday)")
    await demo.staff(story, PauseReminders(note="Client on holiday", actor="demo"))
    await asyncio.sleep(14)
    story.log.append(f"{demo.elapsed():4.0f}s staff resumed reminders")
    await demo.staff(story, ResumeReminders(actor="demo"))
    await demo.wait_until(story, lambda s: s.steps_sent >= 1)
    await asyncio.sleep(3)
    story.log.append(f"{demo.elapsed():4.0f}s client paid after the reminder")
    await demo.pay_as_client(story)
    await demo.wait_until(story, lambda s: s.status.is_final)


async def goes_overdue(story: Story, demo: Demo) -> None:
    await demo.wait_until(story, lambda s: s.escalated)
    story.log.append(f"{demo.elapsed():4.0f}s every reminder sent: staff notified")


async def deposit_then_final(story: Story, demo: Demo) -> None:
    """Issue 14: the deposit invoice is paid, then staff issue the final invoice with the deposit deducted."""
    await demo.wait_until(story, lambda s: s.issued_email_sent)
    await asyncio.sleep(3)
    story.log.append(f"{demo.elapsed():4.0f}s client paid the deposit")
    await demo.pay_as_client(story)
    deposit = await demo.wait_until(story, lambda s: s.status.is_final)
    story.log.append(f"{demo.elapsed():4.0f}s staff: service delivered, issue the final invoice")
    await deposits.issue_final_invoice(
        demo.db, demo.client, deposit_number=deposit.number, task_queue=demo.stack.settings.task_queue
    )
    assert story.booking is not None  # from now on the story follows the final invoice's run
    story.booking = story.booking.final_booking(deposit_source_key=story.booking.source_key)
    await demo.wait_until(story, lambda s: s.issued_email_sent)
    await asyncio.sleep(3)
    story.log.append(f"{demo.elapsed():4.0f}s client paid the rest")
    await demo.pay_as_client(story)
    await demo.wait_until(story, lambda s: s.status.is_final)


async def voided_with_credit_note(story: Story, demo: Demo) -> None:
    await demo.wait_until(story, lambda s: s.issued_email_sent)
    await asyncio.sleep(5)
    story.log.append(f"{demo.elapsed():4.0f}s booking cancelled: staff void, credit note issued")
    await demo.staff(story, VoidInvoice(reason="Booking cancelled by the client", actor="demo"))
    await demo.wait_until(story, lambda s: s.status.is_final)


def stories() -> list[Story]:
    def line(desc: str, qty: str, price: int, tax: int = 0) -> LineIn:
        return LineIn(description=desc, quantity=qty, unit_price_minor=price, tax_rate_bp=tax)  # type: ignore[arg-type]

    return [
        Story(
            "paid by the client",
            ClientIn(external_id="demo-ada", name="Ada Lovelace", email="ada@example.com", timezone="Europe/London"),
            [line("Brand workshop (hours)", "3", 12000, 2000)],
            "GBP",
            paid_by_client,
        ),
        Story(
            "marked paid by staff",
            ClientIn(
                external_id="demo-grace", name="Grace Hopper", email="grace@example.com", timezone="America/New_York"
            ),
            [line("Coaching session", "1", 25000), line("Workbook", "2", 1500)],
            "USD",
            marked_paid_by_staff,
        ),
        Story(
            "paused, resumed, paid",
            ClientIn(external_id="demo-hedy", name="Hedy Lamarr", email="hedy@example.com", timezone="Europe/Berlin"),
            [line("Studio photo shoot", "1", 48000, 1900)],
            "EUR",
            paused_and_resumed,
        ),
        Story(
            "goes overdue",
            ClientIn(external_id="demo-alan", name="Alan Turing", email="alan@example.com", timezone="Asia/Tokyo"),
            [line("Consulting (days)", "2", 80000, 1000)],
            "JPY",
            goes_overdue,
        ),
        Story(
            "deposit, then final",
            ClientIn(external_id="demo-emmy", name="Emmy Noether", email="emmy@example.com", timezone="Europe/Berlin"),
            [line("Wedding photography (day)", "1", 150000, 1900), line("Travel", "1", 8000)],
            "EUR",
            deposit_then_final,
            deposit=DepositIn(percent_bp=3000),
        ),
        Story(
            "voided: credit note",
            ClientIn(
                external_id="demo-katherine", name="Katherine Johnson", email="katherine@example.com", timezone="UTC"
            ),
            [line("Mentoring session", "2", 9000, 2000)],
            "GBP",
            voided_with_credit_note,
        ),
        # The second business: Danish prices in DKK with Denmark's 25 % VAT.
        Story(
            "paid by the client",
            ClientIn(
                external_id="demo-karen", name="Karen Blixen", email="karen@example.com", timezone="Europe/Copenhagen"
            ),
            [line("Interior design consultation (hours)", "4", 95000, 2500)],
            "DKK",
            paid_by_client,
            business="nord",
        ),
        Story(
            "marked paid by staff",
            ClientIn(
                external_id="demo-niels", name="Niels Bohr", email="niels@example.com", timezone="Europe/Copenhagen"
            ),
            [line("Lighting plan", "1", 420000, 2500), line("Site visit", "1", 60000, 2500)],
            "DKK",
            marked_paid_by_staff,
            business="nord",
        ),
    ]


def render(stories_: list[Story], demo: Demo, emails: int) -> Table:
    table = Table(
        title=f"billflow demo · {demo.elapsed():.0f}s · {emails} emails in the outbox", header_style="bold", expand=True
    )
    for column in ("Business", "Story", "Invoice", "Total", "Status", "Sent", "Next reminder", "What happened"):
        table.add_column(column, no_wrap=column not in ("Story", "What happened"))
    now = datetime.now(UTC)
    for story in stories_:
        s = story.state
        business = demo.business_label(story)
        if s is None:
            table.add_row(business, story.label, f"issuing ...\n[dim]{story.client.name}[/]", "", "", "", "", "")
            continue
        nxt = s.next_reminder
        next_cell = ""
        if nxt is not None and not s.status.is_final:
            next_cell = f"step {nxt.step} in {max((nxt.at - now).total_seconds(), 0):.0f}s"
            if s.paused:
                next_cell = "[yellow]paused[/]"
        status = styled_status(s.status) + ("\n[red]escalated[/]" if s.escalated else "")
        table.add_row(
            business,
            story.label,
            f"{s.number}\n[dim]{story.client.name}[/]",
            format_money(s.total_minor, s.currency),
            status,
            f"{s.steps_sent}/{len(s.reminders)}",
            next_cell,
            "\n".join(story.log[-2:]),
        )
    return table


async def count_emails(db: Database, since: datetime) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(EmailMessage).where(EmailMessage.created_at >= since)
        return int((await session.exec(query)).one())


# A seller profile for the demo's documents where the environment sets none, so they are valid Factur-X
# (EN 16931 needs the seller's address, country and VAT id); a real business sets BILLFLOW_BUSINESS_*.
DEMO_BUSINESS = {
    "business_legal_name": "billflow demo studio GmbH",
    "business_address_line1": "Torstraße 5",
    "business_postcode": "10119",
    "business_city": "Berlin",
    "business_country": "DE",
    "business_vat_id": "DE136695976",
    "business_iban": "DE89370400440532013000",
    "business_bic": "COBADEFFXXX",
    "business_phone": "+49 30 1234567",
}


def with_demo_business(settings: Settings) -> Settings:
    return settings.model_copy(update={k: v for k, v in DEMO_BUSINESS.items() if getattr(settings, k, None) is None})


async def with_demo_workspace(db: Database) -> None:
    """New invoices snapshot workspace 1 as their seller: fill the fields its profile leaves empty (a fresh
    installation's, made from unset BILLFLOW_BUSINESS_*) with the demo business, so the documents are complete."""
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate

    current = await workspaces.get_workspace(db, 1)
    wanted = {k.removeprefix("business_"): v for k, v in DEMO_BUSINESS.items() if k != "business_phone"}
    missing = {field: value for field, value in wanted.items() if getattr(current, field, None) is None}
    if missing:
        await workspaces.update_workspace(db, 1, WorkspaceUpdate(**missing))


# The second business (issue 13): a Danish studio with its own legal profile, currency, numbering and sender.
DEMO_STUDIO_NORD = {
    "slug": "demo-studio-nord",
    "name": "Studio Nord",
    "legal_name": "Studio Nord ApS",
    "address_line1": "Nyhavn 12",
    "postcode": "1051",
    "city": "København",
    "country": "DK",
    "vat_id": "DK13585628",
    "registration": "CVR 13585628",
    "iban": "DK5000400440116243",
    "bic": "DABADKKK",
    "sender_name": "Studio Nord",
    "reply_to": "regnskab@studio-nord.example",
    "default_currency": "DKK",
    "locale": "da_DK",
    "reporting_timezone": "Europe/Copenhagen",
    "payment_terms_days": 8,
    "invoice_footer": "Studio Nord ApS · CVR 13585628 · Tak for handlen!",
}


async def with_demo_workspaces(db: Database) -> dict[str, tuple[int, str]]:
    """Workspace 1 completed with the demo business, and the Danish studio (created once, kept for the next
    run): the demo's business key -> (workspace id, name)."""
    from billflow.services import workspaces
    from models.numbering import DocumentType, NumberingSeriesIn, NumberReset
    from models.workspaces import WorkspaceCreate

    await with_demo_workspace(db)
    home = await workspaces.get_workspace(db, 1)
    try:
        nord = await workspaces.get_workspace(db, str(DEMO_STUDIO_NORD["slug"]))
    except workspaces.WorkspaceNotFound:
        nord = await workspaces.create_workspace(db, WorkspaceCreate.model_validate(DEMO_STUDIO_NORD))
        for kind, prefix in ((DocumentType.invoice, "NORD"), (DocumentType.credit_note, "NORD-K")):
            series = NumberingSeriesIn(
                document_type=kind, prefix=prefix, pattern="{prefix}-{seq:05}", reset=NumberReset.continuous
            )
            nord = await workspaces.set_numbering(db, nord.id, series)
    return {"home": (1, home.name), "nord": (nord.id, nord.name)}


async def demo_documents(db: Database, numbers: list[str]) -> list[str]:
    """The numbers of every document the demo issued: its invoices, the deposit invoices their finals deduct,
    and the credit notes of both."""
    from billflow.repositories import credit_notes as credit_notes_repo
    from billflow.repositories import invoices as invoices_repo
    from models.invoices import Invoice

    async with db.session() as session:
        invoices = [found for n in numbers if (found := await invoices_repo.get_invoice(session, number=n))]
        for final in [inv for inv in invoices if inv.deposit_invoice_id is not None]:
            deposit = await session.get(Invoice, final.deposit_invoice_id)
            if deposit is not None:
                invoices.append(deposit)
        notes = [
            note.number
            for invoice in invoices
            for note, _ in await credit_notes_repo.list_credit_notes(session, invoice_id=invoice.id)
        ]
    return [invoice.number for invoice in invoices] + notes


async def check_documents(db: Database, settings: Settings, numbers: list[str]) -> tuple[int, list[str]]:
    """Validate each demo document's Factur-X file (the stored one its email carried: invoices, deposits and
    credit notes) against the EN 16931 XSD and Schematron: the count of valid files, and the fatal findings of
    the others."""
    from facturx import get_xml_from_pdf

    from billflow.einvoice.validation import validate_cii
    from billflow.services import document_files

    valid, findings = 0, []
    for number in numbers:
        async with db.session() as session:
            pdf = await document_files.number_pdf(session, number=number, settings=settings)  # stored once
        _, xml = get_xml_from_pdf(pdf.content, check_xsd=False)
        report = await asyncio.to_thread(validate_cii, xml) if xml else None
        if report is not None and report.ok:
            valid += 1
        else:
            findings.append(f"{number}: " + ("; ".join(report.fatal) if report else "no embedded XML"))
    return valid, findings


async def run_demo(
    settings: Settings, *, keep_running: bool, ui_port: int = 8233, use_running_temporal: bool = False
) -> None:
    settings = with_demo_business(settings)
    async with DevStack(settings, ui_port=ui_port, use_running_temporal=use_running_temporal) as stack:
        demo = Demo(stack)
        demo.businesses = await with_demo_workspaces(demo.db)
        began = datetime.now(UTC)
        run_id = began.strftime("%Y%m%d-%H%M%S")
        cast = stories()
        for story in cast:
            story.booking = BookingIn(
                source="demo",
                booking_id=f"{run_id}-{story.client.external_id}",
                client=story.client,
                lines=story.lines,
                currency=story.currency,
                payment_terms=DEMO_TERMS,
                reminder_policy=DEMO_POLICY,
                memo="billflow demo",
                deposit=story.deposit,
                workspace_id=demo.businesses[story.business][0],
            )
            async with demo.db.session() as session:  # issued with its number; the run starts through the outbox
                await intake.issue_booking(session, settings, story.booking)
        for story in cast:  # the worker's outbox relay starts each run within moments
            await _started(demo.client, story.workflow_id)
        console.print(
            f"\nIssued {len(cast)} invoices for {len(demo.businesses)} businesses, their workflows started."
            f" Temporal UI: {stack.ui_url}\n"
        )

        async def play(story: Story) -> None:
            await story.script(story, demo)
            story.done = True

        scripts = asyncio.gather(*(play(s) for s in cast))
        # Piped into a file or CI log there is no terminal width to follow: print the table at a readable one.
        screen = console if console.is_terminal else Console(width=150)
        with Live(render(cast, demo, 0), console=screen, refresh_per_second=4) as live:
            while not scripts.done() and demo.elapsed() < TIME_LIMIT and not stack.stop_requested:
                for story in cast:  # keep every row fresh, also for stories waiting on a long sleep
                    story.state = await invoice_runs.query_state(demo.client, story.workflow_id) or story.state
                live.update(render(cast, demo, await count_emails(demo.db, began)))
                await asyncio.sleep(0.5)
            live.update(render(cast, demo, await count_emails(demo.db, began)))
        if not scripts.done():
            scripts.cancel()
            if stack.stop_requested:
                console.print("interrupted; stopping ...")
                raise SystemExit(130)
            console.print(f"[red]The demo did not finish within {TIME_LIMIT}s.[/]")
            raise SystemExit(1)
        scripts.result()
        numbers = await demo_documents(demo.db, [story.state.number for story in cast if story.state])
        valid, findings = await check_documents(demo.db, settings, numbers)
        verdict = "[green]0 fatal EN 16931 rules[/]" if not findings else "[red]fatal findings:[/]"
        console.print(
            f"\nFactur-X: {valid}/{len(numbers)} documents (invoices, deposits, credit notes) carry valid"
            f" EN 16931 XML, {verdict}"
        )
        for finding in findings:
            console.print(f"[red]  {finding}[/]")
        console.print(
            f"\n[bold green]All {len(cast)} stories reached their end state.[/]\n"
            f"  Inspect one:      billflow invoice show {cast[0].state.number if cast[0].state else ''}\n"
            "  Read the emails:  billflow outbox (or the email_messages table)\n"
            f'  Temporal UI:      {stack.ui_url}  (filter: InvoiceStatus = "overdue",'
            f" or WorkspaceId = {demo.businesses['nord'][0]} for {demo.businesses['nord'][1]}'s runs)"
        )
        if keep_running:
            console.print("\nThe stack keeps running; Ctrl-C stops it.")
            await stack.wait_for_stop()


async def _started(client: Client, workflow_id: str, *, within: float = 30.0) -> None:
    """Wait until the run of an invoice issued here has been started by the outbox relay."""
    from temporalio.service import RPCError, RPCStatusCode

    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            await client.get_workflow_handle(workflow_id).describe()
            return
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.1)
