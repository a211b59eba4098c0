"""The Temporal client: connection from temporalio's standard environment configuration, encrypted pydantic payloads."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.service import RPCError, RPCStatusCode

from billflow.codec import data_converter_for
from billflow.config import Settings

# The dev server's SQLite file in WAL mode with synchronous=NORMAL: a killed server keeps every committed write
# (only a power cut could lose the last ones, acceptable for a dev server), and writers stop waiting on readers.
# bench/recurring.py, 2,000 subscriptions due in one minute: 206 s -> 181 s; workflow starts 72/s -> 117/s.
DEV_SERVER_SQLITE_FLAGS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]


async def connect(settings: Settings, *, target_host: str | None = None) -> Client:
    """TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS certificates and profiles all apply, so
    Temporal Cloud works unchanged; without them, the local dev server. Every payload is encrypted
    (billflow/codec.py): the worker, the API, the CLI and the benchmarks all connect here."""
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", target_host or settings.temporal_address)
    if target_host:
        config["target_host"] = target_host
    config.setdefault("namespace", settings.temporal_namespace)
    return await Client.connect(**config, data_converter=data_converter_for(settings))


async def ensure_search_attributes(client: Client, namespace: str = "default") -> list[str]:
    """Register billflow's search attributes that the namespace lacks (idempotent); returns those added."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    from workflows.search_attributes import ALL_KEYS

    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        if err.status is not RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server cannot list
            raise
        known = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in ALL_KEYS if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
