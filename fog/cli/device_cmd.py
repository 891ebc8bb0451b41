"""fog device list|revoke|rename."""

from __future__ import annotations

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, api, emit_json, fog_home, local_time, run
from fog.cli.text import as_doc

device_app = typer.Typer(help="List, rename and revoke the user's devices.", no_args_is_help=True)
app.add_typer(device_app, name="device")


def _print(devs: list) -> None:  # type: ignore[type-arg]
    for d in devs:
        state = "revoked" if d.revoked else ("trusted" if d.trusted else "untrusted")
        me = " (this device)" if d.this_device else ""
        added = local_time(d.added_ns) if d.added_ns else "-"
        typer.echo(f"{d.name:<16} {d.id[:12]}  {state:<9}  last batch {d.last_batch:<5}  added {added}{me}")


@device_app.command("list")
def list_cmd(as_json: bool = JSON_OPTION) -> None:
    """Show every device of the user."""
    devs = run(lambda: api.devices(fog_home(), STATE.cwd), as_json)
    if as_json:
        emit_json([as_doc(d) for d in devs])
    else:
        _print(devs)


@device_app.command()
def revoke(name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON_OPTION) -> None:
    """Refuse a device's future batches (what it already read, it keeps)."""
    d = run(lambda: api.revoke_device(fog_home(), STATE.cwd, name), as_json)
    if as_json:
        emit_json(as_doc(d))
    else:
        typer.echo(f"revoked {d.name} ({d.id[:12]}): its batches after {d.last_batch} will be refused")


@device_app.command()
def rename(
    name: str = typer.Argument(..., metavar="NAME"),
    new_name: str = typer.Argument(..., metavar="NEW"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Rename a device."""
    d = run(lambda: api.rename_device(fog_home(), STATE.cwd, name, new_name), as_json)
    if as_json:
        emit_json(as_doc(d))
    else:
        typer.echo(f"renamed device {d.id[:12]} to {d.name}")
