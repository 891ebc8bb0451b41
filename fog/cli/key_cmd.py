"""fog key show|rotate: this device's public identity, the master key (when asked), key rotation."""

from __future__ import annotations

from pathlib import Path

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, api, emit_json, fog_home, run
from fog.cli.device_cmd import MASTER_KEY_FILE_OPTION, _mkf, print_rotation
from fog.cli.sources import read_master_key
from fog.cli.text import as_doc

key_app = typer.Typer(help="Show this device's keys; rotate the user's keys.", no_args_is_help=True)
app.add_typer(key_app, name="key")


@key_app.command()
def show(
    master: bool = typer.Option(False, "--master", help="Also print the secret master key (with a warning)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the device and user public keys; with --master, the master key too."""
    info = run(lambda: api.key_info(fog_home(), master=master), as_json)
    if master:
        typer.echo(
            "fog: WARNING: the master key below gives access to every share of this user; "
            "do not paste it anywhere you would not paste a password",
            err=True,
        )
    if as_json:
        emit_json(as_doc(info))
        return
    typer.echo(f"device       {info.device_name} ({info.device_id})")
    typer.echo(f"device key   {info.device_public}")
    typer.echo(f"user key     {info.user_key}")
    typer.echo(f"signing key  {info.sign_public}")
    typer.echo(f"key epoch    {info.epoch}")
    if info.master_key:
        typer.echo(f"master key   {info.master_key}")


@key_app.command()
def rotate(
    keep: list[str] = typer.Option(
        None,
        "--keep",
        help="Keep only these devices (repeatable; this one always): every other device is revoked.",
        metavar="NAME",
    ),
    master_key_file: Path = MASTER_KEY_FILE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Rotate the master key, user keys and share keys (a lost master key, or a stolen device)."""
    r = run(lambda: api.rotate_keys(fog_home(), STATE.cwd, keep or None, _mkf(master_key_file)), as_json)
    if as_json:
        emit_json(as_doc(r))
    else:
        what = f"revoked {', '.join(r.revoked)}" if r.revoked else "no device revoked"
        print_rotation(r, what)


@key_app.command()
def adopt(
    master_key_file: Path = typer.Option(
        None, "--master-key-file", help="Read the master key from this file.", metavar="F"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Take the master key of a key rotation by hand (when fog cannot choose, or the cache was lost)."""
    key = run(lambda: read_master_key(master_key_file), as_json)  # (never this device's own, older key)
    epoch = run(lambda: api.adopt_key(fog_home(), STATE.cwd, key), as_json)
    if as_json:
        emit_json({"epoch": epoch})
    else:
        typer.echo(f"this device now holds the master key of key epoch {epoch}")
