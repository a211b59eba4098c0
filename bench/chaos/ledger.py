"""Provider-side ledgers and fault injection, wrapped around billflow's provider backends in the worker.

The ledger is an append-only JSON-lines file: a line is written (O_APPEND, one write call) at the moment the
provider *accepts* a request, before the answer travels back. It survives SIGKILL of the worker, so it counts
what a provider would have received, independently of billflow's own tables. Faults are drawn per call:
`429`/`500` mean the provider refused (nothing accepted, billflow must retry), `timeout` means the provider
accepted but the answer never arrived (billflow must not send it again).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billflow.email.base import DeliveryRejected, DeliveryUnknown, EmailSender, OutgoingEmail
from billflow.payments.base import PaymentProvider

FAULTS = ("429", "500", "timeout")


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, **entry: Any) -> None:
        line = (json.dumps({**entry, "pid": os.getpid(), "at": time.time()}) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)  # one write of a short line with O_APPEND: atomic with respect to other writers
        finally:
            os.close(fd)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            if line.endswith("}"):  # a line cut by SIGKILL mid-write would not parse; none is expected
                out.append(json.loads(line))
        return out


@dataclass
class LedgerSummary:
    emails: Counter[str]  # idempotency key -> times the provider accepted it
    links: dict[str, set[str]]  # payment-link idempotency key -> distinct links the provider created
    link_calls: int
    faults: Counter[str]  # fault kind -> times injected

    @classmethod
    def read(cls, ledger: Ledger) -> LedgerSummary:
        emails: Counter[str] = Counter()
        links: dict[str, set[str]] = {}
        faults: Counter[str] = Counter()
        link_calls = 0
        for entry in ledger.entries():
            match entry["t"]:
                case "email":
                    emails[entry["key"]] += 1
                case "link":
                    links.setdefault(entry["key"], set()).add(entry["url"])
                    link_calls += 1
                case "fault":
                    faults[entry["fault"]] += 1
        return cls(emails=emails, links=links, link_calls=link_calls, faults=faults)


class FaultDice:
    """Decides, per provider call, whether to inject a fault (seeded per process, so reruns differ by pid)."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._random = random.Random(seed)

    def roll(self) -> str | None:
        if self.rate <= 0 or self._random.random() >= self.rate:
            return None
        return self._random.choice(FAULTS)


class LedgerEmailSender:
    """Wraps the configured sender: counts accepted messages provider-side and injects provider faults."""

    def __init__(self, inner: EmailSender, ledger: Ledger, dice: FaultDice) -> None:
        self._inner = inner
        self._ledger = ledger
        self._dice = dice
        self.name = inner.name
        # The ledger stands for a real provider: what reaches it counts as delivered, so no repeats.
        self.repeat_is_harmless = False

    async def send(self, email: OutgoingEmail) -> str:
        fault = self._dice.roll()
        if fault in ("429", "500"):
            self._ledger.append(t="fault", fault=f"email-{fault}", key=email.idempotency_key)
            raise DeliveryRejected(f"injected HTTP {fault} from the provider", permanent=False)
        provider_id = await self._inner.send(email)
        self._ledger.append(t="email", key=email.idempotency_key, to=email.to_email)
        if fault == "timeout":
            self._ledger.append(t="fault", fault="email-timeout", key=email.idempotency_key)
            raise DeliveryUnknown("injected timeout: the provider accepted, the answer was lost")
        return provider_id


class InjectedProviderError(Exception):
    """A transient provider failure injected by the chaos suite (retried by the activity's policy)."""


class LedgerPaymentProvider:
    """Wraps the configured payment provider: counts created links provider-side and injects faults."""

    def __init__(self, inner: PaymentProvider, ledger: Ledger, dice: FaultDice) -> None:
        self._inner = inner
        self._ledger = ledger
        self._dice = dice
        self.name = inner.name

    async def create_payment_link(self, *, invoice_id: int, public_token: str, idempotency_key: str) -> str:
        fault = self._dice.roll()
        if fault in ("429", "500"):
            self._ledger.append(t="fault", fault=f"link-{fault}", key=idempotency_key)
            raise InjectedProviderError(f"injected HTTP {fault} from the payment provider")
        url = await self._inner.create_payment_link(
            invoice_id=invoice_id, public_token=public_token, idempotency_key=idempotency_key
        )
        self._ledger.append(t="link", key=idempotency_key, url=url, invoice_id=invoice_id)
        if fault == "timeout":
            self._ledger.append(t="fault", fault="link-timeout", key=idempotency_key)
            raise InjectedProviderError("injected timeout: the link was created, the answer was lost")
        return url
