"""Which Stripe account a workspace's payments are on, and the client that reaches it (issue 13.4).

Three ways, one per workspace: the installation's own account and keys (the default), a Stripe Connect account
(the platform's key with the Stripe-Account header), or the workspace's own keys (its secret key sent per
request; its webhooks come to /webhooks/stripe/w/{workspace id}, signed with its own webhook secret). A Checkout
Session row remembers the way it was made, so its retrieval, expiry, reconciliation and refunds take the same
way later, whatever the workspace has chosen since.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.payments.stripe import StripeGateway, StripeRejected
from billflow.repositories import workspaces as workspaces_repo
from billflow.secret_box import SecretBox, SecretUnreadable
from models.checkout_sessions import CheckoutSession

SECRET_KEY = "stripe_secret_key"
WEBHOOK_SECRET = "stripe_webhook_secret"


@dataclass(frozen=True)
class StripeRoute:
    account: str | None = None  # a Connect account
    own_keys_of: int | None = None  # the workspace whose own keys are used

    @property
    def origin(self) -> str | None:
        """Where the objects live, as webhooks are compared with it: None is the installation's account."""
        return f"own-keys:w{self.own_keys_of}" if self.own_keys_of is not None else self.account


async def route_of_workspace(session: AsyncSession, *, workspace_id: int) -> StripeRoute:
    account, own = await workspaces_repo.stripe_way_of(session, workspace_id=workspace_id)
    return StripeRoute(own_keys_of=workspace_id) if own else StripeRoute(account=account)


def route_of_session(row: CheckoutSession) -> StripeRoute:
    if row.stripe_keys_workspace_id is not None:
        return StripeRoute(own_keys_of=row.stripe_keys_workspace_id)
    return StripeRoute(account=row.stripe_account or None)


def own_key_context(workspace_id: int, name: str) -> str:
    """What a sealed own key is bound to: its workspace and column (a value copied elsewhere does not open)."""
    return f"workspace:{workspace_id}:{name}"


async def gateway_for(session: AsyncSession, gateway: StripeGateway, route: StripeRoute) -> StripeGateway:
    """The client for `route`. A workspace's own key is read (and opened) now, so a rotated key applies at
    once; one cleared or unreadable is a StripeRejected naming the cause (the caller's refusal path)."""
    if route.own_keys_of is None:
        return gateway.on_account(route.account)
    sealed, _ = await workspaces_repo.own_stripe_sealed(session, workspace_id=route.own_keys_of)
    if sealed is None:
        raise StripeRejected("the workspace's own Stripe key has been removed", status=None, code="billflow_no_key")
    if gateway.secrets is None:
        raise StripeRejected("this process cannot open workspaces' Stripe keys", status=None, code="billflow_no_key")
    try:
        return gateway.with_key(gateway.secrets.open(sealed, context=own_key_context(route.own_keys_of, SECRET_KEY)))
    except SecretUnreadable as err:
        raise StripeRejected(f"the workspace's own Stripe key: {err}", status=None, code="billflow_no_key") from None


async def webhook_secret_of(session: AsyncSession, secrets: SecretBox, *, workspace_id: int) -> str | None:
    """The workspace's own webhook signing secret, or None (no such workspace, no own keys, or it does not open)."""
    _, sealed = await workspaces_repo.own_stripe_sealed(session, workspace_id=workspace_id)
    if sealed is None:
        return None
    try:
        return secrets.open(sealed, context=own_key_context(workspace_id, WEBHOOK_SECRET))
    except SecretUnreadable:
        return None
