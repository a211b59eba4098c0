"""Body limits per route: a chunked (no Content-Length) oversized body is a 413 on every webhook, never a 500;
SendGrid's route takes the larger batches SendGrid sends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from billflow.web.limits import MAX_BODY_BYTES

CHUNK = b"x" * 65_536


async def _chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield CHUNK
        sent += len(CHUNK)


@pytest.mark.parametrize(
    "path",
    ["/webhooks/stripe", "/webhooks/sendgrid", "/v1/integrations/calcom/some-integration/webhook", "/v1/events"],
)
async def test_chunked_oversized_body_is_413(http: httpx.AsyncClient, path: str) -> None:
    response = await http.post(
        path, content=_chunks(12 * 1024 * 1024), headers={"Content-Type": "application/json", "X-API-Key": "bf_x_y"}
    )
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["detail"]


async def test_declared_oversized_body_is_413_before_reading(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/events", content=b"x" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
