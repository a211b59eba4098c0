"""The workspace service: profiles validated field by field, numbering series, the first workspace kept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from billflow.db import Database
from billflow.services import workspaces
from models.columns import DEFAULT_WORKSPACE_ID
from models.numbering import DocumentType, NumberingSeriesIn, NumberReset
from models.workspaces import WorkspaceCreate, WorkspaceUpdate
from tests.workspaces.support import make_workspace

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def test_the_installation_is_the_first_workspace(db: Database) -> None:
    first = await workspaces.get_workspace(db, "default")
    assert first.id == DEFAULT_WORKSPACE_ID
    patterns = {s.document_type: (s.prefix, s.pattern, s.reset) for s in first.numbering}
    assert patterns[DocumentType.invoice] == ("INV", "{prefix}-{yyyy}-{seq:06}", NumberReset.yearly)
    assert patterns[DocumentType.credit_note] == ("CN", "{prefix}-{yyyy}-{seq:06}", NumberReset.yearly)


async def test_create_normalises_vat_id_iban_country_and_locale(db: Database) -> None:
    created = await make_workspace(
        db, vat_id="de 136 695 976", iban="de89 3704 0044 0532 0130 00", bic="cobadeffxxx", country="de", locale="de-DE"
    )
    assert (created.vat_id, created.iban, created.bic, created.country, created.locale) == (
        "DE136695976",
        "DE89370400440532013000",
        "COBADEFFXXX",
        "DE",
        "de_DE",
    )
    assert [w.slug for w in await workspaces.list_workspaces(db)].count(created.slug) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vat_id", "DE123"),
        ("iban", "DE00 0000 0000 0000 0000 00"),
        ("bic", "NOTABIC"),
        ("country", "XX"),
        ("default_currency", "EURO"),
        ("locale", "zz_ZZ"),
        ("reporting_timezone", "Mars/Olympus"),
        ("reply_to", "not an email"),
        ("payment_terms_days", 400),
    ],
)
def test_a_bad_profile_value_is_refused_naming_its_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        WorkspaceCreate(slug="x", name="X", **{field: value})
    assert [e["loc"][0] for e in caught.value.errors()] == [field]


async def test_a_taken_slug_is_a_conflict(db: Database) -> None:
    created = await make_workspace(db)
    with pytest.raises(workspaces.WorkspaceConflict, match="slug"):
        await workspaces.create_workspace(db, WorkspaceCreate(slug=created.slug, name="Other"))


async def test_update_changes_only_the_fields_given_and_null_clears(db: Database) -> None:
    created = await make_workspace(db, city="Berlin", vat_id="DE136695976")
    updated = await workspaces.update_workspace(
        db, created.slug, WorkspaceUpdate.model_validate({"invoice_footer": "Danke", "vat_id": None})
    )
    assert (updated.city, updated.vat_id, updated.invoice_footer) == ("Berlin", None, "Danke")
    assert updated.updated_at > created.updated_at


async def test_a_required_field_cannot_be_cleared(db: Database) -> None:
    created = await make_workspace(db)
    with pytest.raises(workspaces.WorkspaceInvalid) as caught:
        await workspaces.update_workspace(db, created.slug, WorkspaceUpdate.model_validate({"default_currency": None}))
    assert caught.value.field == "default_currency"


async def test_logo_must_be_png_or_jpeg(db: Database) -> None:
    created = await make_workspace(db)
    with pytest.raises(workspaces.WorkspaceInvalid) as caught:
        await workspaces.update_workspace(db, created.slug, WorkspaceUpdate(), logo=b"GIF89a....")
    assert caught.value.field == "logo"
    with_logo = await workspaces.update_workspace(db, created.slug, WorkspaceUpdate(), logo=PNG)
    assert (with_logo.logo_type, with_logo.logo_bytes) == ("image/png", len(PNG))
    assert await workspaces.workspace_logo(db, created.slug) == (PNG, "image/png")


async def test_a_new_workspace_numbers_with_its_own_prefix(db: Database) -> None:
    created = await make_workspace(db)
    base = created.slug.upper().replace("-", "")[:7]
    examples = {s.document_type: s.next_example for s in created.numbering}
    assert examples[DocumentType.invoice].startswith(f"{base}-INV-")
    assert examples[DocumentType.credit_note].startswith(f"{base}-CN-")


async def test_unknown_workspace_is_not_found(db: Database) -> None:
    with pytest.raises(workspaces.WorkspaceNotFound):
        await workspaces.get_workspace(db, "no-such-workspace")


async def test_set_numbering_changes_the_pattern(db: Database) -> None:
    created = await make_workspace(db)
    series = NumberingSeriesIn(
        document_type=DocumentType.invoice, prefix="AC", pattern="{prefix}{seq:05}", reset=NumberReset.continuous
    )
    detail = await workspaces.set_numbering(db, created.slug, series)
    invoice = next(s for s in detail.numbering if s.document_type is DocumentType.invoice)
    assert invoice.next_example == "AC00001"
