"""FastAPI dependencies: the process-wide settings, database and Temporal client on app.state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from billflow.config import Settings
from billflow.db import Database
from billflow.payments.stripe import StripeGateway, build_stripe_gateway
from billflow.secret_box import SecretBox, secret_box_for

# Staff refunds wait on Stripe's answer: a couple of quick in-request retries, safe under the same idempotency key.
STAFF_STRIPE_RETRIES = 2


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_temporal(request: Request) -> Client:
    return request.app.state.temporal


def get_stripe_gateway(request: Request) -> StripeGateway | None:
    """The Stripe client of staff actions (refunds), built once; None when no Stripe key is configured."""
    state = request.app.state
    settings: Settings = state.settings
    if not settings.stripe_api_key:
        return None
    if getattr(state, "staff_stripe_gateway", None) is None:
        state.staff_stripe_gateway = build_stripe_gateway(
            settings.stripe_api_key,
            api_base=settings.stripe_api_base,
            max_network_retries=STAFF_STRIPE_RETRIES,
            secrets=get_secret_box(request),
        )
    gateway: StripeGateway = state.staff_stripe_gateway
    return gateway


def get_secret_box(request: Request) -> SecretBox:
    """What opens the secrets stored in the database (a workspace's own Stripe keys), built once."""
    state = request.app.state
    if getattr(state, "secret_box", None) is None:
        state.secret_box = secret_box_for(state.settings)
    box: SecretBox = state.secret_box
    return box


async def get_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[AsyncSession]:
    async with db.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
StripeDep = Annotated[StripeGateway | None, Depends(get_stripe_gateway)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
SecretBoxDep = Annotated[SecretBox, Depends(get_secret_box)]
