"""Workspaces: create, list, show, update a business's profile and numbering (issue 13).

The one service the CLI (`billflow workspace ...`), the API (/v1/workspaces) and the staff app's settings
page call. Profile values are validated by the schemas in models/workspaces.py (a pydantic ValidationError
names the field); this module adds what needs the database or several fields at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.db import Database
from billflow.repositories import numbering as numbering_repo
from billflow.repositories import workspaces as workspaces_repo
from billflow.secret_box import SecretBox, mask
from billflow.services.business_profile import BusinessProfile, workspace_seller
from billflow.services.stripe_accounts import own_key_context
from models.columns import utcnow
from models.numbering import NumberingSeries, NumberingSeriesIn, NumberingSeriesOut
from models.workspace_views import WorkspaceDetail as WorkspaceDetail  # defined beside WorkspaceOut: no ORM
from models.workspaces import (
    OWN_STRIPE_FIELDS,
    REQUIRED_FIELDS,
    Workspace,
    WorkspaceCreate,
    WorkspaceOut,
    WorkspaceUpdate,
    logo_type,
)


class WorkspaceNotFound(LookupError):
    pass


@dataclass(frozen=True)
class InvoiceDefaults:
    """What an invoice takes from its workspace where the booking says nothing (issue 15): the CLI's booking
    files, booking events through the API and the staff app's new-invoice form all fall back to these."""

    currency: str
    payment_terms_days: int


# A workspace id nothing matches (a booking names the workspace; the API checks it exists): billflow's own defaults.
FALLBACK_DEFAULTS = InvoiceDefaults(currency="EUR", payment_terms_days=14)


async def invoice_defaults(session: AsyncSession, *, workspace_id: int) -> InvoiceDefaults:
    workspace = await workspaces_repo.get_workspace(session, workspace_id=workspace_id)
    if workspace is None:
        return FALLBACK_DEFAULTS
    return InvoiceDefaults(currency=workspace.default_currency, payment_terms_days=workspace.payment_terms_days)


class WorkspaceConflict(ValueError):
    """The slug is taken."""


class WorkspaceInvalid(ValueError):
    """A value the schema alone cannot refuse; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _series_out(series: NumberingSeries) -> NumberingSeriesOut:
    return NumberingSeriesOut.of(series, year=datetime.now(UTC).year)


def checked_logo(logo: bytes) -> str:
    try:
        return logo_type(logo)
    except ValueError as err:
        raise WorkspaceInvalid("logo", str(err)) from None


def _prefix_base(slug: str) -> str:
    """A new workspace's number prefix: its slug, upper case (numbers stay unique installation-wide)."""
    return slug.upper().replace("-", "")[:7]


async def _find(session: AsyncSession, ref: str | int, *, for_update: bool = False) -> Workspace:
    if isinstance(ref, int) or ref.isdigit():
        workspace = await workspaces_repo.get_workspace(session, workspace_id=int(ref), for_update=for_update)
    else:
        workspace = await workspaces_repo.get_workspace(session, slug=ref, for_update=for_update)
    if workspace is None:
        raise WorkspaceNotFound(f"no workspace {ref!r}")
    return workspace


async def _detail(session: AsyncSession, workspace: Workspace) -> WorkspaceDetail:
    assert workspace.id is not None
    series = await numbering_repo.list_series(session, workspace_id=workspace.id)
    return WorkspaceDetail(**WorkspaceOut.of(workspace).model_dump(), numbering=[_series_out(s) for s in series])


async def create_workspace(
    db: Database, data: WorkspaceCreate, *, logo: bytes | None = None, secrets: SecretBox | None = None
) -> WorkspaceDetail:
    """A new workspace with its profile and its invoice and credit-note series (`{SLUG}-INV-2026-000001`).
    Its own Stripe keys, if given, are sealed with `secrets` (billflow/secret_box.py)."""
    values = _columns(data.model_dump(mode="json", exclude_none=True, exclude=set(OWN_STRIPE_FIELDS)))
    if logo is not None:
        values.update(logo=logo, logo_type=checked_logo(logo))
    try:
        async with db.session() as session:
            await _account_free(session, values.get("stripe_account_id"), workspace_id=None)
            workspace = await workspaces_repo.add_workspace(session, workspace=Workspace(**values))
            assert workspace.id is not None
            own = {name: getattr(data, name) for name in OWN_STRIPE_FIELDS if getattr(data, name) is not None}
            if own:  # sealed once the id is known: each sealed value is bound to its workspace
                _set_own_stripe_keys(workspace, own, secrets)
                await workspaces_repo.save_workspace(session, workspace=workspace)
            await numbering_repo.add_default_series(
                session, workspace_id=workspace.id, prefix_base=_prefix_base(workspace.slug)
            )
            return await _detail(session, workspace)
    except IntegrityError:
        raise WorkspaceConflict(f"slug: a workspace {data.slug!r} exists already") from None


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """Profile field names -> column names (the API's `stripe_account` is the `stripe_account_id` column)."""
    if "stripe_account" in values:
        values["stripe_account_id"] = values.pop("stripe_account")
    return values


def _set_own_stripe_keys(workspace: Workspace, own: dict[str, Any], secrets: SecretBox | None) -> None:
    """Seal the given keys into the workspace's row (None clears one); the plain values go no further."""
    for name, value in own.items():
        if value is None:
            setattr(workspace, f"{name}_sealed", None)
            setattr(workspace, f"{name}_hint", None)
            continue
        if secrets is None:
            raise WorkspaceInvalid(name, "cannot be stored here: no encryption keys (BILLFLOW_CODEC_KEYS)")
        assert workspace.id is not None
        plain = value.get_secret_value()
        setattr(workspace, f"{name}_sealed", secrets.seal(plain, context=own_key_context(workspace.id, name)))
        setattr(workspace, f"{name}_hint", mask(plain))
    _check_stripe_choice(workspace)


def _check_stripe_choice(workspace: Workspace) -> None:
    """Own keys come in pairs (sessions need the key, their webhooks the secret), and exclude Stripe Connect:
    a workspace's payments are on one account, whose webhooks name one way in."""
    key, hook = workspace.stripe_secret_key_sealed, workspace.stripe_webhook_secret_sealed
    if key is not None and hook is None:
        raise WorkspaceInvalid(
            "stripe_webhook_secret", "give it with stripe_secret_key (its webhooks are verified with it)"
        )
    if hook is not None and key is None:
        raise WorkspaceInvalid("stripe_secret_key", "give it with stripe_webhook_secret")
    if key is not None and workspace.stripe_account_id:
        raise WorkspaceInvalid(
            "stripe_secret_key",
            "a workspace uses its own Stripe keys or a connected account (stripe_account): clear one",
        )


async def _account_free(session: AsyncSession, account: str | None, *, workspace_id: int | None) -> None:
    """A Stripe account is connected to one workspace at most: its webhooks must name one business."""
    if not account:
        return
    owner = await workspaces_repo.get_workspace_of_stripe_account(session, account=account)
    if owner is not None and owner.id != workspace_id:
        raise WorkspaceConflict(f"stripe_account: {account} is connected to workspace {owner.slug!r} already")


async def list_workspaces(db: Database) -> list[WorkspaceOut]:
    async with db.session() as session:
        return [WorkspaceOut.of(w) for w in await workspaces_repo.list_workspaces(session)]


async def get_workspace(db: Database, ref: str | int) -> WorkspaceDetail:
    """By slug or id; WorkspaceNotFound otherwise."""
    async with db.session() as session:
        return await _detail(session, await _find(session, ref))


async def update_workspace(
    db: Database,
    ref: str | int,
    change: WorkspaceUpdate,
    *,
    logo: bytes | None = None,
    clear_logo: bool = False,
    secrets: SecretBox | None = None,
) -> WorkspaceDetail:
    """Change the fields given in `change` (an explicit null clears an optional one); a logo replaces the old.
    Its own Stripe keys are sealed with `secrets`."""
    cleared = sorted(name for name in change.model_fields_set & REQUIRED_FIELDS if getattr(change, name) is None)
    if cleared:
        raise WorkspaceInvalid(cleared[0], "cannot be cleared: give a value")
    given = change.model_fields_set - set(OWN_STRIPE_FIELDS)
    own = {name: getattr(change, name) for name in OWN_STRIPE_FIELDS if name in change.model_fields_set}
    values = _columns(change.model_dump(mode="json", include=given))
    if logo is not None:
        values.update(logo=logo, logo_type=checked_logo(logo))
    elif clear_logo:
        values.update(logo=None, logo_type=None)
    async with db.session() as session:
        workspace = await _find(session, ref, for_update=True)
        if values.get("stripe_account_id"):
            await _account_free(session, values["stripe_account_id"], workspace_id=workspace.id)
        for name, value in values.items():
            setattr(workspace, name, value)
        if own:
            _set_own_stripe_keys(workspace, own, secrets)
        if values or own:
            _check_stripe_choice(workspace)
            workspace.updated_at = utcnow()
            await workspaces_repo.save_workspace(session, workspace=workspace)
        return await _detail(session, workspace)


async def set_numbering(db: Database, ref: str | int, series: NumberingSeriesIn) -> WorkspaceDetail:
    """How the workspace numbers a document type from now on; the numbers handed out so far keep counting."""
    async with db.session() as session:
        workspace = await _find(session, ref, for_update=True)
        assert workspace.id is not None
        await numbering_repo.save_series(
            session,
            workspace_id=workspace.id,
            document_type=series.document_type,
            prefix=series.prefix,
            pattern=series.pattern,
            reset=series.reset,
        )
        return await _detail(session, workspace)


async def workspace_logo(db: Database, ref: str | int) -> tuple[bytes, str] | None:
    """The logo's bytes and media type, or None."""
    async with db.session() as session:
        workspace = await _find(session, ref)
    if workspace.logo is None or workspace.logo_type is None:
        return None
    return workspace.logo, workspace.logo_type


def seller_profile(workspace: Workspace, *, email: str | None) -> BusinessProfile:
    """The workspace as the seller on its documents."""
    return workspace_seller(workspace, email=email)


async def reporting_zone(db: Database, *, workspace_id: int, fallback: str) -> str:
    """The zone the workspace's reports read 'today' in (its profile); `fallback` (the installation's) if unknown."""
    async with db.session() as session:
        return await workspaces_repo.reporting_timezone(session, workspace_id=workspace_id) or fallback
