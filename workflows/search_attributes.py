"""Typed search-attribute keys of invoice runs, filterable in the Temporal UI. No personal data here."""

from temporalio.common import SearchAttributeKey

INVOICE_STATUS = SearchAttributeKey.for_keyword("InvoiceStatus")
INVOICE_NUMBER = SearchAttributeKey.for_keyword("InvoiceNumber")

ALL_KEYS = [INVOICE_STATUS, INVOICE_NUMBER]


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` arguments registering every key."""
    kinds = {
        "KEYWORD": "Keyword",
        "INT": "Int",
        "DATETIME": "Datetime",
        "TEXT": "Text",
        "DOUBLE": "Double",
        "BOOL": "Bool",
        "KEYWORD_LIST": "KeywordList",
    }
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += [
            "--search-attribute",
            f"{key.name}={kinds[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}",
        ]
    return flags
