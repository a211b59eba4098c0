"""Workspace isolation at the API's edge (issue 13): a key reads and acts only on its own workspace's records.

Routers whose paths name a document (`{number}`) depend on `document_in_workspace`: a number of another
workspace's invoice or credit note answers 404, as an unknown number does, so nothing tells it exists.
Subscription routes (`{subscription_id}`) depend on `subscription_in_workspace` the same way. Routes that create
records create them in the key's workspace.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from billflow.services import workspace_scope
from billflow.services.api_keys import Principal
from billflow.web.auth import authenticate
from billflow.web.deps import DatabaseDep

PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def document_in_workspace(request: Request, principal: PrincipalDep, db: DatabaseDep) -> None:
    number = request.path_params.get("number")
    if not isinstance(number, str):
        return
    owners = await workspace_scope.document_workspaces(db, number=number)
    if owners and principal.workspace_id not in owners:
        raise HTTPException(404, f"no invoice or credit note numbered {number}")


DocumentScope = Depends(document_in_workspace)


async def subscription_in_workspace(request: Request, principal: PrincipalDep, db: DatabaseDep) -> None:
    subscription_id = request.path_params.get("subscription_id")
    if not isinstance(subscription_id, str):
        return
    owner = await workspace_scope.subscription_workspace(db, subscription_id=subscription_id)
    if owner is not None and owner != principal.workspace_id:
        raise HTTPException(404, f"no subscription {subscription_id}")


SubscriptionScope = Depends(subscription_in_workspace)
