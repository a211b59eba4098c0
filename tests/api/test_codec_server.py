"""The codec server (/codec/encode, /codec/decode): the remote codec protocol, staff-only, CORS for the UI."""

from __future__ import annotations

import base64
import json

import httpx
from temporalio.api.common.v1 import Payload

from billflow.codec import ENCODING, EncryptionCodec
from models.api_keys import ApiRole
from tests.api.conftest import KeyFactory
from tests.conftest import TEST_CONVERTER

UI_ORIGIN = "http://127.0.0.1:8233"
CODEC = TEST_CONVERTER.payload_codec
assert isinstance(CODEC, EncryptionCodec)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def body(*payloads: Payload) -> str:
    """The protocol's JSON, as the UI sends it: protobuf JSON with base64 bytes."""
    return json.dumps(
        {
            "payloads": [
                {"metadata": {k: _b64(v) for k, v in p.metadata.items()}, "data": _b64(p.data)} for p in payloads
            ]
        }
    )


def payloads_of(response: httpx.Response) -> list[Payload]:
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in p.get("metadata", {}).items()},
            data=base64.b64decode(p.get("data", "")),
        )
        for p in response.json()["payloads"]
    ]


CLEAR = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name":"Ada Lovelace"}')


async def test_staff_decodes_what_billflow_encrypted(http: httpx.AsyncClient, staff_headers: dict[str, str]) -> None:
    encrypted = CODEC.encrypt([CLEAR])
    assert b"Ada" not in encrypted[0].data
    response = await http.post(
        "/codec/decode", content=body(*encrypted), headers={**staff_headers, "X-Namespace": "default"}
    )
    assert response.status_code == 200, response.text
    assert payloads_of(response) == [CLEAR]


async def test_encode_gives_payloads_billflow_decrypts(http: httpx.AsyncClient, staff_headers: dict[str, str]) -> None:
    response = await http.post("/codec/encode", content=body(CLEAR), headers=staff_headers)
    assert response.status_code == 200, response.text
    (encoded,) = payloads_of(response)
    assert encoded.metadata["encoding"] == ENCODING
    assert CODEC.decrypt([encoded]) == [CLEAR]


async def test_unencrypted_payloads_pass_through(http: httpx.AsyncClient, staff_headers: dict[str, str]) -> None:
    response = await http.post("/codec/decode", content=body(CLEAR), headers=staff_headers)
    assert payloads_of(response) == [CLEAR]


async def test_without_a_key_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post("/codec/decode", content=body(*CODEC.encrypt([CLEAR])))
    assert response.status_code == 401
    assert "Ada" not in response.text


async def test_a_viewer_key_is_403(http: httpx.AsyncClient, viewer_headers: dict[str, str]) -> None:
    response = await http.post("/codec/decode", content=body(*CODEC.encrypt([CLEAR])), headers=viewer_headers)
    assert response.status_code == 403


async def test_the_key_in_the_path_authenticates(http: httpx.AsyncClient, make_key: KeyFactory) -> None:
    token = await make_key(ApiRole.staff)
    ok = await http.post(f"/codec/k/{token}/decode", content=body(*CODEC.encrypt([CLEAR])))
    assert payloads_of(ok) == [CLEAR]
    wrong = await http.post(f"/codec/k/{token[:-3]}xyz/decode", content=body(*CODEC.encrypt([CLEAR])))
    assert wrong.status_code == 401


async def test_signing_in_sets_the_cookie_the_ui_sends(http: httpx.AsyncClient, make_key: KeyFactory) -> None:
    token = await make_key(ApiRole.staff)
    refused = await http.post("/codec/session", data={"token": "bf_nope"})
    assert refused.status_code == 401, refused.text
    signed_in = await http.post("/codec/session", data={"token": token})
    assert signed_in.status_code == 200
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/codec" in cookie
    decoded = await http.post("/codec/decode", content=body(*CODEC.encrypt([CLEAR])))  # the client kept the cookie
    assert payloads_of(decoded) == [CLEAR]


async def test_cors_answers_the_ui_origin_only(http: httpx.AsyncClient, staff_headers: dict[str, str]) -> None:
    preflight_headers = {
        "Origin": UI_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    allowed = await http.options("/codec/decode", headers=preflight_headers)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "x-namespace" in allowed.headers["access-control-allow-headers"].lower()
    other = await http.options("/codec/decode", headers={**preflight_headers, "Origin": "https://evil.example"})
    assert other.status_code == 403
    assert "access-control-allow-origin" not in other.headers
    denied = await http.post("/codec/decode", content=body(CLEAR), headers={"Origin": UI_ORIGIN})
    assert (denied.status_code, denied.headers["access-control-allow-origin"]) == (401, UI_ORIGIN)  # UI can read it
    served = await http.post("/codec/decode", content=body(CLEAR), headers={"Origin": UI_ORIGIN, **staff_headers})
    assert served.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_bad_input_is_400_naming_the_problem(http: httpx.AsyncClient, staff_headers: dict[str, str]) -> None:
    malformed = await http.post("/codec/decode", content='{"payloads": [{"data": 5}]}', headers=staff_headers)
    assert malformed.status_code == 400 and "payloads" in malformed.json()["detail"]
    for junk in (b"\xff\xfe", b"", b"[" * 100_000):
        assert (await http.post("/codec/decode", content=junk, headers=staff_headers)).status_code == 400
    tampered = CODEC.encrypt([CLEAR])[0]
    tampered.data = tampered.data[:-1] + bytes([tampered.data[-1] ^ 1])
    refused = await http.post("/codec/decode", content=body(tampered), headers=staff_headers)
    assert refused.status_code == 400
    unknown = Payload(metadata={"encoding": ENCODING, "encryption-key-id": b"gone"}, data=b"x" * 40)
    missing = await http.post("/codec/decode", content=body(unknown), headers=staff_headers)
    assert missing.status_code == 400 and "'gone'" in missing.json()["detail"]
    other_ns = await http.post("/codec/decode", content=body(CLEAR), headers={**staff_headers, "X-Namespace": "x"})
    assert other_ns.status_code == 400 and "X-Namespace" in other_ns.json()["detail"]
    wrong_op = await http.post("/codec/explode", content=body(CLEAR), headers=staff_headers)
    assert wrong_op.status_code == 422
