"""fog key show: this device's public identity, and (when asked) the master key."""

from __future__ import annotations

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, api, emit_json, fog_home, run
from fog.cli.text import as_doc

key_app = typer.Typer(help="Show this device's keys.", no_args_is_help=True)
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
    typer.echo(f"user key     {info.user_public}")
    if info.master_key:
        typer.echo(f"master key   {info.master_key}")
