"""Staff authentication: `Authorization: Bearer <key>` or `X-API-Key: <key>`, checked against hashed keys.

`require_role(ApiRole.staff)` is a FastAPI dependency returning the caller's Principal: 401 when the key is
missing, malformed, unknown or revoked; 403 when its role is below the one required.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from billflow.db import ALL_WORKSPACES, enter_workspace, leave_workspace, workspace_scope
from billflow.services.api_keys import Principal, verify_token
from billflow.web.deps import DatabaseDep
from models.api_keys import ApiRole

# auto_error=False: we answer 401 ourselves (FastAPI's default is 403 for a missing bearer token).
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearerAuth", description="`Authorization: Bearer bf_...`")
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKeyHeader", description="`X-API-Key: bf_...`"
)

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing, unknown or revoked API key"},
    403: {"description": "The key's role does not allow this"},
}


def presented_token(bearer: HTTPAuthorizationCredentials | None, header_key: str | None) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return header_key or None


async def authenticate(
    db: DatabaseDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header_key: Annotated[str | None, Depends(api_key_scheme)],
) -> AsyncIterator[Principal]:
    token = presented_token(bearer, header_key)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing API key", headers=UNAUTHORIZED)
    with workspace_scope(ALL_WORKSPACES):  # the named bypass: a key is found before its workspace is known
        principal = await verify_token(db, token)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked API key", headers=UNAUTHORIZED)
    # The rest of the request runs in the key's workspace: with row security on, PostgreSQL shows no other
    # workspace's rows to its queries (billflow/db.py), whatever filter they forget.
    enter_workspace(principal.workspace_id)
    try:
        yield principal
    finally:
        leave_workspace()


def require_role(role: ApiRole | str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and requires at least `role`."""
    required = ApiRole(role)

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.role.allows(required):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {principal.role.value} may not do this (needs {required.value})"
            )
        return principal

    dependency.__name__ = f"require_{required.value}"
    return dependency


ViewerDep = Annotated[Principal, Depends(require_role(ApiRole.viewer))]
StaffDep = Annotated[Principal, Depends(require_role(ApiRole.staff))]
AdminDep = Annotated[Principal, Depends(require_role(ApiRole.admin))]
