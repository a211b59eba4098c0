"""API-key authentication: missing, wrong, revoked and under-privileged keys, on a probe route."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from billflow.db import Database
from billflow.services import api_keys
from billflow.web.auth import StaffDep
from models.api_keys import ApiRole
from tests.api.conftest import KeyFactory


@pytest.fixture
def probe_app(app: FastAPI) -> FastAPI:
    @app.get("/probe-staff")
    async def probe(principal: StaffDep) -> dict[str, str]:
        return {"name": principal.name, "role": principal.role.value}

    return app


@pytest.fixture
async def probe(probe_app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=probe_app), base_url="http://t")


async def test_missing_key_is_401(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/probe-staff")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_wrong_secret_is_401(probe: httpx.AsyncClient, make_key: KeyFactory) -> None:
    token = await make_key(ApiRole.admin)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await probe.get("/probe-staff", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


async def test_garbage_key_is_401(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/probe-staff", headers={"X-API-Key": "not-a-key"})
    assert response.status_code == 401


async def test_revoked_key_is_401(probe: httpx.AsyncClient, make_key: KeyFactory, db: Database) -> None:
    token = await make_key(ApiRole.staff)
    assert (await probe.get("/probe-staff", headers={"X-API-Key": token})).status_code == 200
    await api_keys.revoke_key(db, key_id=token.split("_")[1])
    assert (await probe.get("/probe-staff", headers={"X-API-Key": token})).status_code == 401


async def test_viewer_key_is_403_on_staff_route(probe: httpx.AsyncClient, make_key: KeyFactory) -> None:
    token = await make_key(ApiRole.viewer)
    response = await probe.get("/probe-staff", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


async def test_admin_key_passes_staff_route(probe: httpx.AsyncClient, make_key: KeyFactory) -> None:
    token = await make_key(ApiRole.admin, name="boss")
    response = await probe.get("/probe-staff", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"name": "boss", "role": "admin"}


async def test_stored_hash_is_not_the_secret(db: Database) -> None:
    created = await api_keys.create_key(db, api_keys.NewApiKey(name="x", role=ApiRole.viewer))
    from billflow.repositories import api_keys as repo

    async with db.session() as session:
        row = await repo.get_key(session, key_id=created.key_id)
    assert row is not None
    assert created.token.split("_", 2)[2] not in row.secret_hash


async def test_use_is_recorded(probe: httpx.AsyncClient, make_key: KeyFactory, db: Database) -> None:
    token = await make_key(ApiRole.staff)
    assert (await probe.get("/probe-staff", headers={"X-API-Key": token})).status_code == 200
    (listed,) = [k for k in await api_keys.list_keys(db) if k.key_id == token.split("_")[1]]
    assert listed.last_used_at is not None
