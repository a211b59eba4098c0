"""Typed search-attribute keys of invoice and subscription runs, filterable in the Temporal UI.

No personal data here: ids, numbers, amounts and dates only, never names or email addresses (search attributes
are stored unencrypted in the visibility store and shown to every operator).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, SearchAttributeUpdate, TypedSearchAttributes

INVOICE_STATUS = SearchAttributeKey.for_keyword("InvoiceStatus")
INVOICE_NUMBER = SearchAttributeKey.for_keyword("InvoiceNumber")
CLIENT_ID = SearchAttributeKey.for_keyword("ClientId")
AMOUNT_DUE_MINOR = SearchAttributeKey.for_int("AmountDueMinor")
CURRENCY = SearchAttributeKey.for_keyword("Currency")
DUE_DATE = SearchAttributeKey.for_datetime("DueDate")
SUBSCRIPTION_ID = SearchAttributeKey.for_keyword("SubscriptionId")
# The workspace (business) a run belongs to (issue 13): `WorkspaceId = 2` in the Temporal UI lists its runs.
WORKSPACE_ID = SearchAttributeKey.for_int("WorkspaceId")

ALL_KEYS: list[SearchAttributeKey[Any]] = [
    INVOICE_STATUS,
    INVOICE_NUMBER,
    CLIENT_ID,
    AMOUNT_DUE_MINOR,
    CURRENCY,
    DUE_DATE,
    SUBSCRIPTION_ID,
    WORKSPACE_ID,
]

# temporalio's IndexedValueType name -> the CLI's `--search-attribute Name=Type` spelling.
_CLI_TYPES = {
    "KEYWORD": "Keyword",
    "INT": "Int",
    "DATETIME": "Datetime",
    "TEXT": "Text",
    "FLOAT": "Double",
    "DOUBLE": "Double",
    "BOOL": "Bool",
    "KEYWORD_LIST": "KeywordList",
}


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` arguments registering every key."""
    flags: list[str] = []
    for key in ALL_KEYS:
        kind = _CLI_TYPES[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


def due_date_value(day: date) -> datetime:
    """DueDate as a Datetime attribute: midnight UTC of the local due date, so `DueDate < "2026-12-01"` filters by
    calendar day whatever the client's time zone."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def invoice_updates(
    *,
    status: str,
    number: str,
    client_id: int | None,
    amount_due_minor: int,
    currency: str,
    due_date: date,
    subscription_id: str | None,
    workspace_id: int | None = None,
) -> list[SearchAttributeUpdate[Any]]:
    """Every key of an invoice run in one upsert; unknown ids are left unset rather than written empty."""
    updates: list[SearchAttributeUpdate[Any]] = [
        INVOICE_STATUS.value_set(status),
        INVOICE_NUMBER.value_set(number),
        AMOUNT_DUE_MINOR.value_set(amount_due_minor),
        CURRENCY.value_set(currency),
        DUE_DATE.value_set(due_date_value(due_date)),
    ]
    if client_id is not None:
        updates.append(CLIENT_ID.value_set(str(client_id)))
    if subscription_id:
        updates.append(SUBSCRIPTION_ID.value_set(subscription_id))
    if workspace_id is not None:
        updates.append(WORKSPACE_ID.value_set(workspace_id))
    return updates


def start_attributes(*, workspace_id: int, subscription_id: str | None = None) -> TypedSearchAttributes:
    """The keys known when a run starts, given with its start so a list query finds it from its first event."""
    pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(WORKSPACE_ID, workspace_id)]
    if subscription_id:
        pairs.append(SearchAttributePair(SUBSCRIPTION_ID, subscription_id))
    return TypedSearchAttributes(pairs)
