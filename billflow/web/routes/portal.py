"""The client portal's pages: the sign-in page (a client asks for a magic link by email), the single-use link's
confirm step, and what a link shows (invoices, credit notes, payments, the statement of account).

Thin edges: billflow.services.portal and portal_requests hold the rules; these handlers render or redirect. An
unknown, used, expired or revoked link, and another client's credit note, are a 404 alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billflow.services import portal, portal_requests
from billflow.statement_pdf import render_statement_pdf
from billflow.web.deps import DatabaseDep, SettingsDep
from billflow.web.routes.public import TOKEN_MAX, _render

router = APIRouter(tags=["client portal"], include_in_schema=False)

NOT_FOUND = "link not found, used or expired: ask for a new one at /p"
NUMBER_MAX = 32
SENT = (
    "If this address belongs to one of our clients, a link to your invoices is on its way to it. It works once, "
    f"within {int(portal_requests.SIGN_IN_VALID.total_seconds() // 60)} minutes."
)


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail=NOT_FOUND)


def _sign_in(
    settings_name: str, *, status: int = 200, notice: str | None = None, error: str | None = None, email: str = ""
) -> HTMLResponse:
    response = _render("portal_sign_in.html.j2", business_name=settings_name, notice=notice, error=error, email=email)
    response.status_code = status
    return response


@router.get("/p", response_class=HTMLResponse, summary="The portal's sign-in page: ask for a link by email")
async def sign_in_page(settings: SettingsDep) -> HTMLResponse:
    return _sign_in(settings.business_name)


@router.post("/p", response_class=HTMLResponse, summary="Email a single-use portal link to a client's address")
async def request_link(
    request: Request,
    background: BackgroundTasks,
    db: DatabaseDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=400)] = "",
) -> HTMLResponse:
    address = request.client.host if request.client else "unknown"
    try:
        pending = await portal_requests.request_link(db, email=email, address=address)
    except portal_requests.RequestInvalid as err:
        return _sign_in(settings.business_name, status=400, error=f"{err.field}: {err.message}", email=email[:320])
    except portal_requests.RequestThrottled as err:
        text = "We have had several requests for a link from here or for this address. Please try again later."
        response = _sign_in(settings.business_name, status=429, error=text)
        response.headers["Retry-After"] = str(int(err.retry_after.total_seconds()))
        return response
    # Sent after the answer: the page and its timing are the same for a stranger's address and a client's.
    background.add_task(portal_requests.send_links, db, settings, pending)
    return _sign_in(settings.business_name, notice=SENT)


@router.get("/p/{token}", response_class=HTMLResponse, summary="The client portal (magic link)")
async def portal_page(token: str, db: DatabaseDep, settings: SettingsDep) -> HTMLResponse:
    if len(token) > TOKEN_MAX:
        raise _not_found()
    view = await portal.open_portal(db, token=token)
    if view is None:
        # A single-use link is opened by a button, not by the GET: mail scanners that fetch links do not use it.
        if await portal.sign_in_link_usable(db, token=token):
            return _render("portal_open.html.j2", business_name=settings.business_name, action=f"/p/{token}")
        raise _not_found()
    return _render(
        "portal.html.j2",
        client=view.client,
        invoices=view.invoices,
        payments=view.payments,
        credit_notes=view.credit_notes,
        credit_note_base=f"/p/{token}/credit-notes",
        expires_at=view.expires_at,
        business_name=view.business_name or settings.business_name,
        statement_url=f"/p/{token}/statement.pdf",
    )


@router.post("/p/{token}", summary="Open a single-use portal link (once)")
async def open_link(token: str, db: DatabaseDep) -> Response:
    browse = await portal.open_sign_in_link(db, token=token) if len(token) <= TOKEN_MAX else None
    if browse is None:
        raise _not_found()
    return RedirectResponse(f"/p/{browse}", status_code=303)


@router.get("/p/{token}/statement.pdf", summary="The client's statement of account as a PDF")
async def portal_statement(token: str, db: DatabaseDep, settings: SettingsDep) -> Response:
    view = await portal.open_portal(db, token=token) if len(token) <= TOKEN_MAX else None
    if view is None:
        raise _not_found()
    pdf = render_statement_pdf(
        client=view.client,
        invoices=view.invoices,
        payments=view.payments,
        business_name=view.business_name or settings.business_name,
        as_of=datetime.now(UTC),
        credit_notes=[(item.note, item.invoice_number) for item in view.credit_notes],
    )
    return _pdf(pdf, "statement.pdf")


@router.get("/p/{token}/credit-notes/{number}", summary="One of the client's credit notes as a PDF")
async def portal_credit_note(token: str, number: str, db: DatabaseDep, settings: SettingsDep) -> Response:
    if len(token) > TOKEN_MAX or len(number) > NUMBER_MAX:
        raise _not_found()
    pdf = await portal.credit_note_pdf(db, settings, token=token, number=number)
    if pdf is None:
        raise _not_found()
    return _pdf(pdf, f"{number}.pdf")


def _pdf(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"},
    )
