"""`billflow codec ...`: payload encryption keys (docs/encryption.md), and the dev server UI's codec endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from billflow.config import Settings, get_settings
from billflow.db import Database
from starter.common import JsonOption, console, fail, print_json

app = typer.Typer(no_args_is_help=True)

UI_KEY_FILE = "codec-ui-key"  # under the data folder: the staff key `billflow dev` gives the Temporal UI


@app.command("generate-key")
def generate_key(
    key_id: str = typer.Option(..., "--id", help="The new key's id, e.g. 2026-12 (stored in every payload)."),
    as_json: bool = JsonOption,
) -> None:
    """Generate an AES-256 key and print the settings that add it beside the configured ones, as the active key.

    Rotation: deploy the printed BILLFLOW_CODEC_KEYS (old keys kept: old runs still decode) with the new
    BILLFLOW_CODEC_ACTIVE_KEY to every worker, API and CLI; remove an old key only once no run that could
    need it is left within the namespace's retention.
    """
    from billflow.codec import generate_key as new_key

    if not key_id or len(key_id) > 64 or not key_id.replace("-", "").replace("_", "").replace(".", "").isalnum():
        fail("--id: letters, digits, '-', '_' and '.' only (at most 64)", code=2)
    settings = get_settings()
    keys = {name: secret.get_secret_value() for name, secret in settings.codec_keys.items()}
    if key_id in keys:
        fail(f"--id: {key_id!r} is already in BILLFLOW_CODEC_KEYS; choose a new id", code=2)
    keys[key_id] = new_key()
    settings_out = {"BILLFLOW_CODEC_KEYS": json.dumps(keys, separators=(",", ":")), "BILLFLOW_CODEC_ACTIVE_KEY": key_id}
    if as_json:
        print_json(settings_out)
        return
    console.print(f"New key [bold]{key_id}[/] (keep it secret; without it, payloads it encrypts cannot be read):")
    for name, value in settings_out.items():
        console.print(f"{name}='{value}'", soft_wrap=True, highlight=False, markup=False)


@app.command("status")
def status(as_json: bool = JsonOption) -> None:
    """The key ids this process would use (never their material), and which one encrypts."""
    from billflow.codec import CodecKeyError, keyring_for

    settings = get_settings()
    try:
        keyring = keyring_for(settings)
    except CodecKeyError as err:
        fail(str(err))
    source = "BILLFLOW_CODEC_KEYS" if settings.codec_keys else f"generated dev key in {settings.data_dir}"
    out = {"active": keyring.active, "keys": sorted(keyring.keys), "source": source}
    if as_json:
        print_json(out)
        return
    console.print(f"active key: [bold]{keyring.active}[/]; keys: {', '.join(sorted(keyring.keys))} ({source})")


async def dev_ui_endpoint(settings: Settings, db: Database, web_url: str) -> str:
    """The codec endpoint `billflow dev` gives the dev server's UI, which sends neither headers nor cookies: the
    path carries a staff key of its own, made once and kept under the data folder (revoke it with
    `billflow key revoke`; the next start makes a new one)."""
    from billflow.services import api_keys
    from models.api_keys import ApiRole

    path = Path(settings.data_dir) / UI_KEY_FILE
    token = path.read_text().strip() if path.exists() else ""
    if not token or await api_keys.verify_token(db, token) is None:
        new = api_keys.NewApiKey(name="Temporal UI (billflow dev)", role=ApiRole.staff)
        token = (await api_keys.create_key(db, new)).token
        path.write_text(token + "\n")
        path.chmod(0o600)
    return f"{web_url}/codec/k/{token}"
