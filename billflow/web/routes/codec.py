"""The codec server: Temporal's remote codec protocol, so the Temporal UI and CLI show decrypted payloads.

POST `.../encode` and `.../decode` take and return `{"payloads": [...]}` (protobuf JSON, base64 fields), with
the namespace in `X-Namespace`. Only staff may call them, with a staff API key presented one of three ways:

- `Authorization: Bearer bf_...` (or `X-API-Key`): the Temporal CLI (`--codec-auth "Bearer bf_..."`), scripts;
- the `billflow_codec` cookie set by signing in at `/codec/session`: the UI with "Include cross-origin
  credentials" on (the UI and billflow on one site, e.g. subdomains of one domain);
- in the path, `/codec/k/<key>/decode`: for a UI that can send neither (the dev server's UI, which
  `billflow dev` wires this way with a key of its own). A key in a URL can end up in logs: development only.

CORS answers only the configured origins (BILLFLOW_CODEC_CORS_ORIGINS), with credentials allowed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from billflow.codec import CodecKeyError, EncryptionCodec
from billflow.services.api_keys import Principal, verify_token
from billflow.web.auth import api_key_scheme, bearer_scheme, presented_token
from billflow.web.deps import DatabaseDep, SettingsDep, TemporalDep
from models.api_keys import ApiRole

router = APIRouter(prefix="/codec", tags=["codec"])

COOKIE = "billflow_codec"
COOKIE_MAX_AGE = 8 * 3600  # one working day; sign in again after
Operation = Literal["encode", "decode"]


def cors_headers(request: Request, settings: SettingsDep) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin is None or origin not in settings.codec_cors_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


CorsDep = Annotated[dict[str, str], Depends(cors_headers)]


def _codec(temporal: TemporalDep) -> EncryptionCodec:
    """The app's own Temporal client's codec: the codec server decodes exactly what billflow encodes."""
    codec = temporal.data_converter.payload_codec
    if not isinstance(codec, EncryptionCodec):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "payload encryption is not configured")
    return codec


async def _staff(db: DatabaseDep, token: str | None, cors: dict[str, str]) -> Principal:
    principal = await verify_token(db, token) if token else None
    if principal is None:
        detail = "missing API key" if not token else "invalid or revoked API key"
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer", **cors})
    if not principal.role.allows(ApiRole.staff):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role.value} may not read payloads", cors)
    return principal


async def _convert(
    operation: Operation, request: Request, settings: SettingsDep, codec: EncryptionCodec, cors: dict[str, str]
) -> Response:
    namespace = request.headers.get("x-namespace")
    if namespace is not None and namespace != settings.temporal_namespace:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"X-Namespace: this codec serves {settings.temporal_namespace!r}", cors
        )
    try:
        payloads = json_format.Parse(await request.body(), Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, RecursionError) as err:  # not JSON, not UTF-8, too deep
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"payloads: {err}"[:300], cors) from None
    try:
        converted = codec.encrypt(payloads.payloads) if operation == "encode" else codec.decrypt(payloads.payloads)
    except CodecKeyError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"payloads: {err}", cors) from None
    except Exception:  # cryptography's InvalidTag: tampered, or encrypted under another key with the same id
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "payloads: a payload failed to decrypt", cors) from None
    body = json_format.MessageToJson(Payloads(payloads=converted), indent=None)
    return Response(body, media_type="application/json", headers=cors)


# Before `/{operation}`: the first matching route wins.
_SIGN_IN = """<!doctype html><meta charset="utf-8"><title>billflow codec sign-in</title>
<h1>Read billflow payloads in the Temporal UI</h1>
<p>Sign in with a staff API key (<code>billflow key create NAME --role staff</code>). In the Temporal UI's codec
server settings, turn on "Include cross-origin credentials".</p>
<form method="post"><input name="token" type="password" size="60" placeholder="bf_..." required>
<button>Sign in</button></form>"""


@router.get("/session", response_class=HTMLResponse, include_in_schema=False)
async def sign_in_form() -> HTMLResponse:
    return HTMLResponse(_SIGN_IN)


@router.post("/session", summary="Sign in for the Temporal UI: sets the codec cookie (a staff API key)")
async def sign_in(
    request: Request, db: DatabaseDep, settings: SettingsDep, token: Annotated[str, Form(max_length=200)]
) -> JSONResponse:
    principal = await _staff(db, token.strip(), {})
    response = JSONResponse({"signed_in": principal.name, "expires_in_seconds": COOKIE_MAX_AGE})
    response.set_cookie(
        COOKIE,
        token.strip(),
        max_age=COOKIE_MAX_AGE,
        path="/codec",
        httponly=True,
        secure=settings.public_base_url.startswith("https://"),
        samesite="strict",
    )
    return response


async def codec_staff(
    request: Request,
    db: DatabaseDep,
    cors: CorsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """A staff key from the Authorization / X-API-Key header, else from the sign-in cookie."""
    return await _staff(db, presented_token(bearer, header_key) or request.cookies.get(COOKIE), cors)


codec_staff.__name__ = "require_staff"  # named as require_role names its checks (bench/chaos authorization)


@router.post("/{operation}", summary="Remote codec: encode or decrypt Temporal payloads (staff only)")
async def convert(
    operation: Operation,
    request: Request,
    _staff_caller: Annotated[Principal, Depends(codec_staff)],
    settings: SettingsDep,
    codec: Annotated[EncryptionCodec, Depends(_codec)],
    cors: CorsDep,
) -> Response:
    return await _convert(operation, request, settings, codec, cors)


@router.post("/k/{key}/{operation}", summary="Remote codec with the staff key in the path (dev server's UI)")
async def convert_with_path_key(
    key: str,
    operation: Operation,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    cors: CorsDep,
    temporal: TemporalDep,
) -> Response:
    await _staff(db, key, cors)
    return await _convert(operation, request, settings, _codec(temporal), cors)


@router.options("/{operation}", include_in_schema=False)
@router.options("/k/{key}/{operation}", include_in_schema=False)
async def preflight(cors: CorsDep) -> Response:
    """The browser's CORS preflight: answered without credentials (browsers send none with it)."""
    if not cors:
        return Response(status_code=status.HTTP_403_FORBIDDEN)
    headers = {
        **cors,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, X-Namespace, Authorization, X-API-Key",
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)
