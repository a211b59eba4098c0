"""Sign in and out, accept an invitation, reset a forgotten password: thin pages over billflow.services.users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billflow.email import build_email_sender
from billflow.email.base import EmailSender
from billflow.services import users
from billflow.services.account_mail import AccountEmailFailed
from billflow.web.deps import DatabaseDep, SettingsDep
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import MaybeUser, end_session, start_session
from models.users import TokenPurpose

router = APIRouter(prefix="/app", include_in_schema=False)

FormStr = Annotated[str, Form(max_length=1000)]


def email_sender(request: Request) -> EmailSender:
    """One sender per app (built on first use, as the webhook routes do)."""
    state = request.app.state
    if getattr(state, "email_sender", None) is None:
        state.email_sender = build_email_sender(state.settings)
    sender: EmailSender = state.email_sender
    return sender


def _safe_next(target: str) -> str:
    # Only paths inside the app: never an open redirect to another site.
    clean = target.startswith("/app") and "\\" not in target and all(32 < ord(c) < 127 for c in target)
    if clean:
        return target
    return "/app"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, user: MaybeUser, next: str = "/app") -> Response:
    if user is not None:
        return redirect(_safe_next(next))
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    db: DatabaseDep,
    email: FormStr = "",
    password: FormStr = "",
    next: FormStr = "/app",
) -> Response:
    values = {"email": email}
    try:
        user = await users.sign_in(db, email=email, password=password, address=client_address(request))
    except users.LoginThrottled as err:
        return render(request, "login.html", status_code=429, next=_safe_next(next), error=str(err), values=values)
    except users.LoginFailed as err:
        return render(request, "login.html", status_code=401, next=_safe_next(next), error=str(err), values=values)
    start_session(request, user)
    return redirect(_safe_next(next))


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    end_session(request)
    flash(request, "You are signed out.")
    return redirect("/app/login")


@router.get("/forgot", response_class=HTMLResponse)
async def forgot_form(request: Request) -> HTMLResponse:
    return render(request, "forgot.html", sent=False)


@router.post("/forgot", response_class=HTMLResponse)
async def forgot(request: Request, db: DatabaseDep, settings: SettingsDep, email: FormStr = "") -> HTMLResponse:
    try:
        await users.request_reset(db, settings, email_sender(request), email=email)
    except AccountEmailFailed:
        pass  # the same answer either way: the page never tells whether the address has an account
    return render(request, "forgot.html", sent=True)


def _link_page(kind: TokenPurpose) -> tuple[str, str]:
    return ("Accept your invitation", "invite") if kind is TokenPurpose.invite else ("Choose a new password", "reset")


async def _show_link(request: Request, db: DatabaseDep, secret: str, kind: TokenPurpose) -> HTMLResponse:
    heading, path = _link_page(kind)
    try:
        account = await users.peek_link(db, secret=secret, purpose=kind)
    except users.TokenInvalid as err:
        return render(request, "set_password.html", status_code=410, heading=heading, invalid=str(err))
    return render(
        request, "set_password.html", heading=heading, invalid=None, account=account, action=f"/app/{path}/{secret}"
    )


async def _use_link(
    request: Request, db: DatabaseDep, secret: str, kind: TokenPurpose, password: str, password2: str
) -> Response:
    heading, path = _link_page(kind)
    try:
        account = await users.peek_link(db, secret=secret, purpose=kind)
    except users.TokenInvalid as err:
        return render(request, "set_password.html", status_code=410, heading=heading, invalid=str(err))
    errors: dict[str, str] = {}
    if password != password2:
        errors["password2"] = "the two passwords differ"
    else:
        try:
            users.check_password(password)
        except users.WeakPassword as err:
            errors["password"] = str(err)
    if errors:
        return render(
            request,
            "set_password.html",
            status_code=422,
            heading=heading,
            invalid=None,
            account=account,
            action=f"/app/{path}/{secret}",
            errors=errors,
        )
    try:
        user = await users.redeem_link(db, secret=secret, purpose=kind, password=password)
    except users.TokenInvalid as err:
        return render(request, "set_password.html", status_code=410, heading=heading, invalid=str(err))
    start_session(request, user)
    flash(request, "Your password is saved; you are signed in.")
    return redirect("/app")


@router.get("/invite/{secret}", response_class=HTMLResponse)
async def invite_form(request: Request, db: DatabaseDep, secret: str) -> HTMLResponse:
    return await _show_link(request, db, secret, TokenPurpose.invite)


@router.post("/invite/{secret}", response_class=HTMLResponse)
async def accept_invite(
    request: Request, db: DatabaseDep, secret: str, password: FormStr = "", password2: FormStr = ""
) -> Response:
    return await _use_link(request, db, secret, TokenPurpose.invite, password, password2)


@router.get("/reset/{secret}", response_class=HTMLResponse)
async def reset_form(request: Request, db: DatabaseDep, secret: str) -> HTMLResponse:
    return await _show_link(request, db, secret, TokenPurpose.reset)


@router.post("/reset/{secret}", response_class=HTMLResponse)
async def reset(
    request: Request, db: DatabaseDep, secret: str, password: FormStr = "", password2: FormStr = ""
) -> Response:
    return await _use_link(request, db, secret, TokenPurpose.reset, password, password2)
