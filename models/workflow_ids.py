"""The one spelling of billflow's workflow ids (issue 13, item 6): every starter, and the workflows that start
child runs, take their ids from here.

New runs carry their workspace (`invoice-w2-manual-B-1`), so two workspaces using the same booking source and id
never meet in one run, and an operator reads the business from the id. Runs started before workspaces keep their
ids (`invoice-manual-B-1`): the database holds each invoice's and subscription's workflow id, and lookups go
through it; `legacy_*` spells the old form for the places that must still find such a run by its booking.

Pure string functions (models import no other layer): workflows may call them while replaying.
"""

from __future__ import annotations


def invoice(*, workspace_id: int, source: str, booking_id: str, deposit: bool = False) -> str:
    """The invoice run of a booking (its deposit invoice when `deposit`)."""
    return f"invoice-w{workspace_id}-{source}-{booking_id}{'-deposit' if deposit else ''}"


def legacy_invoice(*, source: str, booking_id: str, deposit: bool = False) -> str:
    """The id invoice runs started before workspaces were given."""
    return f"invoice-{source}-{booking_id}{'-deposit' if deposit else ''}"


def invoice_candidates(*, workspace_id: int, source: str, booking_id: str) -> list[str]:
    """Every id the runs of a booking may have: its invoice and its deposit invoice, new form first."""
    return [
        invoice(workspace_id=workspace_id, source=source, booking_id=booking_id),
        invoice(workspace_id=workspace_id, source=source, booking_id=booking_id, deposit=True),
        legacy_invoice(source=source, booking_id=booking_id),
        legacy_invoice(source=source, booking_id=booking_id, deposit=True),
    ]


def subscription(*, workspace_id: int, subscription_id: str) -> str:
    """A subscription's billing run."""
    return f"subscription-w{workspace_id}-{subscription_id}"


def legacy_subscription(subscription_id: str) -> str:
    return f"subscription-{subscription_id}"
