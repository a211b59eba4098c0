"""Settings > Business profile (admins): the signed-in staff's workspace profile, the seller on new documents.

The workspace is the one store of the profile (issue 13): this page reads and saves it through
billflow/services/workspaces.py, as the CLI and /v1/workspaces do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billflow.services import workspaces
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import AdminUser, MultipartCsrf
from models.time_zones import IANA_TIME_ZONES
from models.workspaces import MAX_LOGO_BYTES, WorkspaceUpdate

router = APIRouter(prefix="/app/settings", include_in_schema=False)

FormStr = Annotated[str, Form(max_length=1000)]
# The form's fields, each a WorkspaceUpdate field of the same name.
FIELDS = (
    "legal_name", "sender_name", "address_line1", "postcode", "city", "country", "vat_id", "iban", "bic",
    "reply_to", "default_currency", "reporting_timezone", "payment_terms_days", "invoice_footer",
)  # fmt: skip
# Optional fields a blank input clears; the others must be given.
CLEARABLE = frozenset(FIELDS) - {"legal_name", "sender_name", "default_currency", "reporting_timezone"}
CLEARABLE -= {"payment_terms_days"}
ZONES = sorted(IANA_TIME_ZONES)


def _workspace_of(user: UserOut) -> int:
    # The business profile is the signed-in admin's workspace's, never another's.
    return user.workspace_id


async def _page(request: Request, db: DatabaseDep, user: UserOut, **extra: Any) -> HTMLResponse:
    workspace = await workspaces.get_workspace(db, _workspace_of(user))
    current = workspace.model_dump()
    stored = {
        **{name: current.get(name) for name in FIELDS},
        "has_logo": workspace.logo_bytes is not None,
        "saved": workspace.updated_at,
        "slug": workspace.slug,
    }
    extra.setdefault("values", {k: "" if stored[k] is None else stored[k] for k in FIELDS})
    return render(request, "profile.html", user=user, stored=stored, zones=ZONES, **extra)


@router.get("/profile", response_class=HTMLResponse)
async def profile_page(request: Request, db: DatabaseDep, user: AdminUser) -> HTMLResponse:
    return await _page(request, db, user)


@router.get("/profile/logo")
async def profile_logo(db: DatabaseDep, user: AdminUser) -> Response:
    logo = await workspaces.workspace_logo(db, _workspace_of(user))
    if logo is None:
        return Response(status_code=404)
    content, media_type = logo
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-store"})


def _change(values: dict[str, str]) -> dict[str, str | None]:
    """Blank inputs: clear an optional field, leave a required one to its check (a blank name is refused)."""
    change: dict[str, str | None] = {}
    for name, value in values.items():
        if value.strip():
            change[name] = value
        elif name in CLEARABLE:
            change[name] = None
        else:
            change[name] = value  # refused by the schema: min_length 1 or not a valid value
    change["name"] = change["sender_name"]  # the sender name is the name printed on documents too
    return change


@router.post("/profile", response_class=HTMLResponse, dependencies=[MultipartCsrf])
async def save_profile(
    request: Request,
    db: DatabaseDep,
    user: AdminUser,
    logo: Annotated[UploadFile | None, File()] = None,
    remove_logo: FormStr = "",
) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in FIELDS}
    errors: dict[str, str] = {}
    change: WorkspaceUpdate | None = None
    try:
        change = WorkspaceUpdate.model_validate(_change(values))
    except ValidationError as err:
        for problem in err.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "legal_name"
            errors.setdefault(name, problem["msg"].removeprefix("Value error, "))
    content = None
    if logo is not None and logo.filename:
        content = await logo.read(MAX_LOGO_BYTES + 1)
    if change is not None and not errors:
        try:
            await workspaces.update_workspace(
                db, _workspace_of(user), change, logo=content, clear_logo=remove_logo == "yes"
            )
        except workspaces.WorkspaceInvalid as err:
            errors[err.field] = err.message
    elif content is not None:
        try:
            workspaces.checked_logo(content)
        except workspaces.WorkspaceInvalid as err:
            errors[err.field] = err.message
    if errors:
        return await _page(request, db, user, status_code=422, errors=errors, values=values)
    flash(request, "Business profile saved: new invoices carry it.")
    return redirect("/app/settings/profile")
