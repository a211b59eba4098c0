"""The documents CLI: credit notes (issue, list, show), documents with --pdf, the final invoice, billing details,
and clear refusals with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import get_settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from models.workflow_io import DepositIn
from tests.api.test_cli import cli_env, invoke  # noqa: F401  (cli_env is a fixture used by name)
from tests.api.test_documents_api import _issued, _wait_invoice
from tests.factories import make_booking


@pytest.fixture
def doc_cli_env(
    cli_env: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    time_env: WorkflowEnvironment,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", time_env.client.service_client.config.target_host)
    get_settings.cache_clear()


async def test_credit_note_issue_list_show_and_pdf(
    doc_cli_env: None, worker: Worker, time_env: WorkflowEnvironment, db: Database, tmp_path: Path
) -> None:
    invoice = await _issued(time_env, db, make_booking(), worker)
    code, out = await invoke(
        "credit-note", "issue", invoice.number, "--amount", "1500", "--reason", "late start", "--json"
    )
    assert code == 0, out
    number = json.loads(out)["number"]
    code, out = await invoke("credit-note", "list", "--invoice", invoice.number, "--json")
    assert code == 0 and [n["number"] for n in json.loads(out)] == [number]
    pdf = tmp_path / "cn.pdf"
    code, out = await invoke("document", "show", number, "--pdf", str(pdf))
    assert code == 0, out
    assert f"Refers to invoice {invoice.number}" in out and pdf.read_bytes().startswith(b"%PDF-")


async def test_credit_note_above_the_balance_is_refused_with_the_field(
    doc_cli_env: None, worker: Worker, time_env: WorkflowEnvironment, db: Database
) -> None:
    invoice = await _issued(time_env, db, make_booking(), worker)
    code, out = await invoke(
        "credit-note", "issue", invoice.number, "--amount", str(invoice.total_minor + 1), "--reason", "x"
    )
    assert code == 2 and "amount_minor" in out


async def test_issue_final_from_the_cli(
    doc_cli_env: None, worker: Worker, time_env: WorkflowEnvironment, db: Database
) -> None:
    booking = make_booking(deposit=DepositIn(amount_minor=10_000))
    deposit = await _issued(time_env, db, booking, worker)
    assert deposit.total_minor == 10_000
    code, out = await invoke("invoice", "issue-final", deposit.number, "--json")
    assert code == 0, out
    final = await _wait_invoice(db, json.loads(out)["workflow_id"])
    assert final.total_minor == 38_500 - 10_000


async def test_invoice_create_refuses_reverse_charge_without_vat_id(doc_cli_env: None, tmp_path: Path) -> None:
    booking = make_booking().model_dump(mode="json")
    booking["lines"] = [{"description": "Consulting", "unit_price_minor": 1000, "tax_category": "reverse_charge"}]
    path = tmp_path / "booking.json"
    path.write_text(json.dumps(booking))
    code, out = await invoke("invoice", "create", str(path))
    assert code == 2 and "client.vat_id" in out


async def test_client_billing_sets_and_validates_details(
    doc_cli_env: None, worker: Worker, time_env: WorkflowEnvironment, db: Database, http: httpx.AsyncClient
) -> None:
    invoice = await _issued(time_env, db, make_booking(), worker)
    async with db.session() as session:
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    code, out = await invoke("client", "billing", client.external_id, "--vat-id", "DE123456789")
    assert code == 2 and "vat_id" in out
    code, out = await invoke(
        "client", "billing", client.external_id, "--kind", "business", "--vat-id", "ATU13585627", "--country", "at",
        "--city", "Wien", "--json",
    )  # fmt: skip
    assert code == 0, out
    view = json.loads(out)
    assert (view["kind"], view["vat_id"], view["country"], view["city"]) == ("business", "ATU13585627", "AT", "Wien")


async def test_invoice_create_answers_the_number_with_no_worker_running(
    doc_cli_env: None, tmp_path: Path, db: Database
) -> None:
    from billflow.repositories import invoices as invoices_repo
    from billflow.repositories import run_outbox as outbox_repo

    path = tmp_path / "booking.json"
    path.write_text(json.dumps(make_booking().model_dump(mode="json")))
    code, out = await invoke("invoice", "create", str(path), "--json")
    assert code == 0, out
    created = json.loads(out)
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=created["number"])
        owed = await outbox_repo.pending(session, workflow_id=created["workflow_id"])
    assert invoice is not None and invoice.workflow_id == created["workflow_id"]
    assert [m.kind for m in owed] == ["start"]  # the run starts once a worker's relay is up
