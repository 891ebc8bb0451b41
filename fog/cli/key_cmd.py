"""fog key show|rotate|adopt|protect|unprotect: this device's public identity, the master key (when
asked), key rotation, FOG_HOME sealed under a passphrase."""

from __future__ import annotations

from pathlib import Path

import typer

from fog.cli.app import WholeSummaries, app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, run, say
from fog.cli.device_cmd import MASTER_KEY_FILE_OPTION, _mkf, rotation_done
from fog.cli.sources import new_passphrase, read_master_key
from fog.cli.text import as_doc

key_app = typer.Typer(
    cls=WholeSummaries,
    help="Show this device's keys; rotate the user's keys; seal them in FOG_HOME under a passphrase.",
    no_args_is_help=True,
)
app.add_typer(key_app, name="key")


@key_app.command()
def show(
    master: bool = typer.Option(False, "--master", help="Also print the secret master key (with a warning)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the device and user public keys; with --master, the master key too."""
    info = run(lambda: api.key_info(fog_home(), master=master), as_json)
    if master:
        where = "in the JSON on stdout (`master_key`)" if as_json else "below"
        typer.echo(
            f"fog: WARNING: the master key {where} gives access to every share of this user; "
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
    typer.echo(f"secrets      {'sealed under a passphrase' if info.protected else 'in clear (fog key protect)'}")
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
    wait: bool = WAIT_OPTION,
) -> None:
    """Rotate the master key, user keys and share keys (a lost master key, or a stolen device)."""
    r = run(lambda: api.rotate_keys(fog_home(), STATE.cwd, keep or None, _mkf(master_key_file), wait=wait), as_json)
    rotation_done(r, f"revoked {', '.join(r.revoked)}" if r.revoked else "no device revoked", as_json)


@key_app.command()
def adopt(
    master_key_file: Path = typer.Option(
        None, "--master-key-file", help="Read the master key from this file.", metavar="F"
    ),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Take the master key of a key rotation by hand (when fog cannot choose, or the cache was lost)."""
    key = run(lambda: read_master_key(master_key_file, cwd=STATE.cwd), as_json)  # (never this device's own, older key)
    epoch = run(lambda: api.adopt_key(fog_home(), STATE.cwd, key, wait=wait), as_json)
    if as_json:
        emit_json({"epoch": epoch})
    else:
        typer.echo(f"this device now holds the master key of key epoch {epoch}")


@key_app.command()
def protect(as_json: bool = JSON_OPTION) -> None:
    """Seal this device's secrets in FOG_HOME under a passphrase (on a sealed home: change the passphrase)."""
    home = fog_home()
    changing = run(lambda: api.unlock_home(home), as_json)  # the current passphrase first (before the rewrite)
    new = run(lambda: new_passphrase(changing), as_json)
    r = run(lambda: api.protect_home(home, new), as_json)
    if as_json:
        emit_json(as_doc(r))
        return
    what = "the new passphrase" if r.changed else "a passphrase"
    typer.echo(f"{home}: {', '.join(r.files)} sealed under {what}")
    say("fog: every command now asks for it: on the terminal, or set FOG_PASSPHRASE_COMMAND (cron)")


@key_app.command()
def unprotect(as_json: bool = JSON_OPTION) -> None:
    """Write this device's secrets in FOG_HOME in clear again (mode 0600, as before `fog key protect`)."""
    home = fog_home()
    run(lambda: api.unlock_home(home), as_json)  # asked before the rewrite, which other fog processes wait for
    r = run(lambda: api.unprotect_home(home), as_json)
    if as_json:
        emit_json(as_doc(r))
    elif r.files:
        typer.echo(f"{r.home}: {', '.join(r.files)} in clear again")
    else:
        typer.echo(f"{r.home} is not sealed under a passphrase: nothing to do")
