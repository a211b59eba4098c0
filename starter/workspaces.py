"""`billflow workspace create|list|show|update|numbering`: the businesses this installation serves (issue 13)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from starter.common import JsonOption, LazyModule, console, database, fail, print_json, run

if TYPE_CHECKING:
    from billflow.services import workspaces
    from models import numbering as numbering_models
    from models import workspaces as workspace_models
else:  # imported when a command runs (CLI start-up time)
    workspaces = LazyModule("billflow.services.workspaces")
    numbering_models = LazyModule("models.numbering")
    workspace_models = LazyModule("models.workspaces")

app = typer.Typer(no_args_is_help=True)

RefArg = Annotated[str, typer.Argument(help="The workspace's slug (or id).")]
Opt = Annotated[str | None, typer.Option()]
Name = Annotated[str | None, typer.Option("--name", help="Trading name, printed and shown to staff.")]
LegalName = Annotated[str | None, typer.Option("--legal-name", help="Registered name (defaults to --name).")]
Address = Annotated[str | None, typer.Option("--address", help="Street and number.")]
Postcode = Annotated[str | None, typer.Option("--postcode")]
City = Annotated[str | None, typer.Option("--city")]
Country = Annotated[str | None, typer.Option("--country", help="ISO 3166-1 alpha-2, e.g. DE.")]
VatId = Annotated[str | None, typer.Option("--vat-id", help="EU VAT id (checked by python-stdnum).")]
Registration = Annotated[str | None, typer.Option("--registration", help="Company registration.")]
Iban = Annotated[str | None, typer.Option("--iban", help="Bank account for transfers (checked by schwifty).")]
Bic = Annotated[str | None, typer.Option("--bic")]
Logo = Annotated[Path | None, typer.Option("--logo", help="PNG or JPEG file, at most 512 KB.", dir_okay=False)]
SenderName = Annotated[str | None, typer.Option("--sender-name", help="From name of the workspace's emails.")]
ReplyTo = Annotated[str | None, typer.Option("--reply-to", help="Reply-To address of its emails.")]
SenderEmail = Annotated[
    str | None, typer.Option("--sender-email", help="From address of its emails (verified with the email provider).")
]
StripeAccount = Annotated[
    str | None,
    typer.Option("--stripe-account", help="Its Stripe Connect account (acct_...): payments and refunds go there."),
]
StripeSecretKey = Annotated[
    str | None,
    typer.Option(
        "--stripe-secret-key",
        help="Its own Stripe account's secret key (sk_live_...), instead of --stripe-account: stored encrypted, "
        "shown masked. Give --stripe-webhook-secret with it.",
    ),
]
StripeWebhookSecret = Annotated[
    str | None,
    typer.Option(
        "--stripe-webhook-secret",
        help="Signing secret (whsec_...) of its Stripe endpoint /webhooks/stripe/w/<workspace id>; stored encrypted.",
    ),
]
Currency = Annotated[str | None, typer.Option("--currency", help="Default ISO 4217 currency, e.g. EUR.")]
Locale = Annotated[str | None, typer.Option("--locale", help="e.g. de_DE, en_GB.")]
Zone = Annotated[str | None, typer.Option("--timezone", help="Reporting time zone (IANA), e.g. Europe/Berlin.")]
Terms = Annotated[int | None, typer.Option("--payment-terms", help="Default payment terms in days.", min=0, max=366)]
Policy = Annotated[
    Path | None, typer.Option("--reminder-policy", help="JSON file: the default reminder policy.", dir_okay=False)
]
Footer = Annotated[str | None, typer.Option("--footer", help="Invoice footer text.")]

# CLI option -> profile field, for messages and --clear.
FIELDS = {
    "name": "name", "legal-name": "legal_name", "address": "address_line1", "postcode": "postcode", "city": "city",
    "country": "country", "vat-id": "vat_id", "registration": "registration", "iban": "iban", "bic": "bic",
    "sender-name": "sender_name", "sender-email": "sender_email", "reply-to": "reply_to",
    "stripe-account": "stripe_account", "stripe-secret-key": "stripe_secret_key",
    "stripe-webhook-secret": "stripe_webhook_secret", "currency": "default_currency", "locale": "locale",
    "timezone": "reporting_timezone", "payment-terms": "payment_terms_days", "reminder-policy": "reminder_policy",
    "footer": "invoice_footer",
}  # fmt: skip
OPTION_OF = {field: f"--{option}" for option, field in FIELDS.items()} | {
    "document_type": "--type",
    "slug": "SLUG",
    "logo": "--logo",
}


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        fail(f"{what}: cannot read {path} ({err.strerror})", code=2)


def _policy(path: Path | None) -> Any:
    import json

    content = _read(path, "--reminder-policy")
    if content is None:
        return None
    try:
        return json.loads(content)
    except ValueError as err:
        fail(f"--reminder-policy: {path} is not JSON ({err})", code=2)


def _values(**given: Any) -> dict[str, Any]:
    return {FIELDS[name.replace("_", "-")]: value for name, value in given.items() if value is not None}


def _show(detail: workspaces.WorkspaceDetail) -> None:
    table = Table(title=f"Workspace {escape(detail.slug)} (id {detail.id})", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    address = ", ".join(p for p in (detail.address_line1, detail.postcode, detail.city, detail.country) if p)
    rows = {
        "name": detail.name,
        "legal name": detail.legal_name,
        "address": address or None,
        "VAT id": detail.vat_id,
        "registration": detail.registration,
        "IBAN / BIC": " / ".join(p for p in (detail.iban, detail.bic) if p) or None,
        "logo": f"{detail.logo_type}, {detail.logo_bytes} bytes" if detail.logo_bytes else None,
        "sender name": detail.sender_name,
        "sender email": detail.sender_email,
        "reply-to": detail.reply_to,
        "Stripe account": detail.stripe_account,
        "own Stripe keys": (
            f"{detail.stripe_secret_key}, webhook secret {detail.stripe_webhook_secret}, "
            f"endpoint /webhooks/stripe/w/{detail.id}"
            if detail.stripe_secret_key
            else None
        ),
        "currency": detail.default_currency,
        "locale": detail.locale,
        "reporting time zone": detail.reporting_timezone,
        "payment terms": f"{detail.payment_terms_days} days",
        "reminder policy": "custom" if detail.reminder_policy else "standard",
        "invoice footer": detail.invoice_footer,
    }  # fmt: skip
    for label, value in rows.items():
        table.add_row(label, escape(str(value)) if value is not None else "[dim]-[/]")
    for series in detail.numbering:
        label = f"{series.document_type.value.replace('_', ' ')} numbers"
        table.add_row(label, f"{escape(series.pattern)} ({series.reset.value}), e.g. {escape(series.next_example)}")
    console.print(table)


def _output(detail: workspaces.WorkspaceDetail, as_json: bool, verb: str | None = None) -> None:
    if as_json:
        print_json(detail)
        return
    if verb:
        console.print(f"{verb} workspace [bold]{escape(detail.slug)}[/] (id {detail.id}).")
    _show(detail)


def _parsed(schema: Any, **values: Any) -> Any:
    """The schema's instance; a bad value fails naming its option (--vat-id), exit code 2."""
    from pydantic import ValidationError

    try:
        return schema(**values)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            field = str(e["loc"][0]) if e["loc"] else ""
            where = OPTION_OF.get(field, f"--{field}") if field else "input"
            problems.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
        fail("; ".join(problems), code=2)


def _secrets() -> Any:
    """What seals a workspace's own Stripe keys: the codec's keys (billflow/secret_box.py)."""
    from billflow.secret_box import secret_box_for
    from starter import common

    return secret_box_for(common.get_settings())


def _guarded(coro: Any) -> Any:
    try:
        return run(coro)
    except workspaces.WorkspaceNotFound as err:
        fail(str(err))
    except workspaces.WorkspaceInvalid as err:
        fail(f"{OPTION_OF.get(err.field, err.field)}: {err.message}", code=2)
    except workspaces.WorkspaceConflict as err:
        fail(str(err).replace("slug:", "SLUG:", 1).replace("stripe_account:", "--stripe-account:", 1), code=2)


@app.command("create")
def create(
    slug: Annotated[str, typer.Argument(help="Handle for the CLI and URLs: lowercase, digits, hyphens.")],
    name: Name = None,
    legal_name: LegalName = None,
    address: Address = None,
    postcode: Postcode = None,
    city: City = None,
    country: Country = None,
    vat_id: VatId = None,
    registration: Registration = None,
    iban: Iban = None,
    bic: Bic = None,
    logo: Logo = None,
    sender_name: SenderName = None,
    sender_email: SenderEmail = None,
    reply_to: ReplyTo = None,
    stripe_account: StripeAccount = None,
    stripe_secret_key: StripeSecretKey = None,
    stripe_webhook_secret: StripeWebhookSecret = None,
    currency: Currency = None,
    locale: Locale = None,
    timezone: Zone = None,
    payment_terms: Terms = None,
    reminder_policy: Policy = None,
    footer: Footer = None,
    as_json: bool = JsonOption,
) -> None:
    """Create a workspace: a business with its own profile, numbering, clients and invoices."""
    values = _values(
        name=name, legal_name=legal_name, address=address, postcode=postcode, city=city, country=country,
        vat_id=vat_id, registration=registration, iban=iban, bic=bic, sender_name=sender_name, reply_to=reply_to,
        sender_email=sender_email, stripe_account=stripe_account, currency=currency, locale=locale, timezone=timezone,
        payment_terms=payment_terms, stripe_secret_key=stripe_secret_key, stripe_webhook_secret=stripe_webhook_secret,
        reminder_policy=_policy(reminder_policy), footer=footer,
    )  # fmt: skip
    if "name" not in values:
        fail("--name: give the workspace's trading name", code=2)
    logo_bytes = _read(logo, "--logo")

    data = _parsed(workspace_models.WorkspaceCreate, slug=slug, **values)

    async def go() -> workspaces.WorkspaceDetail:
        async with database() as db:
            return await workspaces.create_workspace(db, data, logo=logo_bytes, secrets=_secrets())

    _output(_guarded(go()), as_json, "Created")


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """The workspaces of this installation."""

    from starter import reads  # psycopg alone (issue 11, item 15): the table from a few columns, --json the models
    from starter.reads import workspace_records

    if as_json:
        with reads.connection() as conn:
            print_json(workspace_records.workspace_list(conn))
        return
    with reads.connection() as conn:
        found = reads.workspaces(conn)
    table = Table("id", "slug", "name", "country", "VAT id", "currency", "time zone", title="Workspaces")
    for w in found:
        table.add_row(
            str(w["id"]), escape(w["slug"]), escape(w["name"]), w["country"] or "-", w["vat_id"] or "-",
            w["default_currency"], w["reporting_timezone"],
        )  # fmt: skip
    console.print(table)


@app.command("show")
def show(ref: RefArg, as_json: bool = JsonOption) -> None:
    """A workspace's profile and numbering series."""
    from starter import reads  # psycopg alone, the service's models (issue 11, item 15)
    from starter.reads import workspace_records

    with reads.connection() as conn:
        detail = workspace_records.workspace_detail(conn, ref)
    if detail is None:
        fail(f"no workspace {ref!r}")  # services.workspaces.WorkspaceNotFound's message
    _output(detail, as_json)


@app.command("update")
def update(
    ref: RefArg,
    name: Name = None,
    legal_name: LegalName = None,
    address: Address = None,
    postcode: Postcode = None,
    city: City = None,
    country: Country = None,
    vat_id: VatId = None,
    registration: Registration = None,
    iban: Iban = None,
    bic: Bic = None,
    logo: Logo = None,
    sender_name: SenderName = None,
    sender_email: SenderEmail = None,
    reply_to: ReplyTo = None,
    stripe_account: StripeAccount = None,
    stripe_secret_key: StripeSecretKey = None,
    stripe_webhook_secret: StripeWebhookSecret = None,
    currency: Currency = None,
    locale: Locale = None,
    timezone: Zone = None,
    payment_terms: Terms = None,
    reminder_policy: Policy = None,
    footer: Footer = None,
    clear: Annotated[
        list[str] | None,
        typer.Option("--clear", help="Empty an optional field, by its option name (e.g. --clear vat-id); 'logo' too."),
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Change the fields given; the others keep their values."""
    values: dict[str, Any] = _values(
        name=name, legal_name=legal_name, address=address, postcode=postcode, city=city, country=country,
        vat_id=vat_id, registration=registration, iban=iban, bic=bic, sender_name=sender_name, reply_to=reply_to,
        sender_email=sender_email, stripe_account=stripe_account, currency=currency, locale=locale, timezone=timezone,
        payment_terms=payment_terms, stripe_secret_key=stripe_secret_key, stripe_webhook_secret=stripe_webhook_secret,
        reminder_policy=_policy(reminder_policy), footer=footer,
    )  # fmt: skip
    clear_logo = False
    for option in clear or ():
        if option == "logo":
            clear_logo = True
        elif option in FIELDS:
            values[FIELDS[option]] = None
        else:
            fail(f"--clear: {option!r} is not a field (one of: logo, {', '.join(FIELDS)})", code=2)
    logo_bytes = _read(logo, "--logo")
    if not values and logo_bytes is None and not clear_logo:
        fail("nothing to change: give at least one option (see --help)", code=2)

    change = _parsed(workspace_models.WorkspaceUpdate, **values)

    async def go() -> workspaces.WorkspaceDetail:
        async with database() as db:
            return await workspaces.update_workspace(
                db, ref, change, logo=logo_bytes, clear_logo=clear_logo, secrets=_secrets()
            )

    _output(_guarded(go()), as_json, "Updated")


@app.command("numbering")
def numbering(
    ref: RefArg,
    document_type: Annotated[str, typer.Option("--type", help="invoice or credit_note.")] = "invoice",
    prefix: Annotated[str, typer.Option("--prefix", help="What {prefix} prints (at most 12 characters).")] = "",
    pattern: Annotated[
        str, typer.Option("--pattern", help="e.g. '{prefix}-{yyyy}-{seq:06}'; {yy} and {seq} work too.")
    ] = "{prefix}-{yyyy}-{seq:06}",
    reset: Annotated[str, typer.Option("--reset", help="yearly (from 1 each year) or continuous.")] = "yearly",
    as_json: bool = JsonOption,
) -> None:
    """Set how a workspace numbers invoices or credit notes from now on (gap-free; numbers given keep counting)."""

    series = _parsed(
        numbering_models.NumberingSeriesIn, document_type=document_type, prefix=prefix, pattern=pattern, reset=reset
    )

    async def go() -> workspaces.WorkspaceDetail:
        async with database() as db:
            return await workspaces.set_numbering(db, ref, series)

    _output(_guarded(go()), as_json, "Updated")
