"""Admin pages: staff users (invite, role, disable) and API keys for machines (create, revoke)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from billflow.services import api_keys, users
from billflow.services.account_mail import AccountEmailFailed
from billflow.web import reveal
from billflow.web.deps import DatabaseDep, SettingsDep
from billflow.web.pages.accounts import email_sender
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import AdminUser
from models.api_keys import ApiRole

router = APIRouter(prefix="/app/settings", include_in_schema=False)

FormStr = Annotated[str, Form(max_length=1000)]
ROLES = [(r.value, r.value) for r in ApiRole]


def _role(value: str) -> ApiRole | None:
    try:
        return ApiRole(value)
    except ValueError:
        return None


async def _users_page(request: Request, db: DatabaseDep, user: users.UserOut, **extra: Any) -> HTMLResponse:
    return render(
        request,
        "users.html",
        user=user,
        people=await users.list_users(db, workspace_id=user.workspace_id),
        roles=ROLES,
        **extra,
    )


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request, db: DatabaseDep, user: AdminUser) -> HTMLResponse:
    return await _users_page(request, db, user, invited=None)


@router.post("/users/invite", response_class=HTMLResponse)
async def invite(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    user: AdminUser,
    email: FormStr = "",
    name: FormStr = "",
    role: FormStr = "viewer",
) -> Response:
    values = {"email": email, "name": name, "role": role}
    errors: dict[str, str] = {}
    try:
        # The invited person joins the inviter's workspace.
        data = users.NewUser(
            email=email.strip(), name=name.strip(), role=_role(role) or ApiRole.viewer, workspace_id=user.workspace_id
        )
    except ValidationError as err:
        for problem in err.errors():
            errors[str(problem["loc"][0])] = problem["msg"]
    if _role(role) is None:
        errors["role"] = "choose viewer, staff or admin"
    if errors:
        return await _users_page(request, db, user, status_code=422, errors=errors, values=values, invited=None)
    try:
        link = await users.invite(db, settings, email_sender(request), data, invited_by=user.label)
    except users.UserExists as err:
        return await _users_page(
            request, db, user, status_code=409, errors={"email": str(err)}, values=values, invited=None
        )
    except AccountEmailFailed as err:
        return await _users_page(
            request,
            db,
            user,
            status_code=502,
            errors={"email": f"the invitation email failed: {err}"},
            values=values,
            invited=None,
        )
    flash(request, f"Invitation emailed to {link.user.email}.")
    return redirect("/app/settings/users")


@router.post("/users/{user_id}/role", response_class=HTMLResponse)
async def change_role(
    request: Request, db: DatabaseDep, user: AdminUser, user_id: int, role: FormStr = "", disable: FormStr = ""
) -> Response:
    try:
        changed = await users.change_role(
            db, user_id=user_id, workspace_id=user.workspace_id, role=_role(role), disable=disable == "yes"
        )
    except (users.LastAdmin, users.UserNotFound) as err:
        flash(request, str(err), kind="error")
        return redirect("/app/settings/users")
    flash(request, f"{changed.email}: {'disabled' if disable == 'yes' else changed.role.value}.")
    return redirect("/app/settings/users")


async def _keys_page(request: Request, db: DatabaseDep, user: users.UserOut, **extra: Any) -> HTMLResponse:
    extra.setdefault("created", None)
    return render(
        request,
        "keys.html",
        user=user,
        keys=await api_keys.list_keys(db, workspace_id=user.workspace_id),
        roles=ROLES,
        **extra,
    )


@router.get("/api-keys", response_class=HTMLResponse)
async def keys_page(request: Request, db: DatabaseDep, user: AdminUser) -> HTMLResponse:
    created = reveal.take(request, "api-keys", api_keys.CreatedApiKey)
    return await _keys_page(request, db, user, created=created)


@router.post("/api-keys", response_class=HTMLResponse)
async def create_key(
    request: Request, db: DatabaseDep, user: AdminUser, name: FormStr = "", role: FormStr = "viewer"
) -> Response:
    values = {"name": name, "role": role}
    errors: dict[str, str] = {}
    if not name.strip() or len(name.strip()) > 200:
        errors["name"] = "give the key a name (1 to 200 characters) saying who or what uses it"
    if _role(role) is None:
        errors["role"] = "choose viewer, staff or admin"
    if errors:
        return await _keys_page(request, db, user, status_code=422, errors=errors, values=values)
    clean = name.replace("\x00", "").strip()
    # A key made here is the admin's workspace's: it reads and acts only there.
    new = api_keys.NewApiKey(name=clean, role=_role(role) or ApiRole.viewer, workspace_id=user.workspace_id)
    created = await api_keys.create_key(db, new)
    # POST-redirect-GET: the token is shown once by the GET, so a reload cannot create a second key.
    reveal.stash(request, "api-keys", created)
    return redirect("/app/settings/api-keys")


@router.post("/api-keys/{key_id}/revoke")
async def revoke_key(request: Request, db: DatabaseDep, user: AdminUser, key_id: str) -> RedirectResponse:
    try:
        revoked = await api_keys.revoke_key(db, key_id=key_id[:32], workspace_id=user.workspace_id)
        flash(request, f"Key {revoked.key_id} ({revoked.name}) is revoked.")
    except api_keys.KeyNotFound as err:
        flash(request, str(err), kind="error")
    return redirect("/app/settings/api-keys")
