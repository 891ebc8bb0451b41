"""fog device list|revoke|rename|add-untrusted|remove|set-address."""

from __future__ import annotations

from pathlib import Path

import typer

from fog.cli.app import WholeSummaries, app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, local_time, run
from fog.cli.text import as_doc, shown
from fog.errors import EXIT_INTEGRITY, Refused
from fog.sync.keyring import RotationResult

device_app = typer.Typer(
    cls=WholeSummaries,
    help="List, rename and revoke the user's devices; add, move and remove untrusted nodes (fog serve).",
    no_args_is_help=True,
)
app.add_typer(device_app, name="device")


def _print(devs: list) -> None:  # type: ignore[type-arg]
    for d in devs:
        state = "revoked" if d.revoked else "removed" if d.removed else ("trusted" if d.trusted else "untrusted")
        me = " (this device)" if d.this_device else ""
        added = local_time(d.added_ns) if d.added_ns else "-"
        if d.node:
            typer.echo(f"{shown(d.name):<16} {d.id[:12]}  {state:<9}  node at {d.address}  added {added}")
        else:
            typer.echo(f"{shown(d.name):<16} {d.id[:12]}  {state:<9}  last batch {d.last_batch:<5}  added {added}{me}")


@device_app.command("list")
def list_cmd(as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION) -> None:
    """Show every device of the user."""
    devs = run(lambda: api.devices(fog_home(), STATE.cwd, wait=wait), as_json)
    if as_json:
        emit_json([as_doc(d) for d in devs])
    else:
        _print(devs)


MASTER_KEY_FILE_OPTION = typer.Option(
    None,
    "--master-key-file",
    help="Write the new master key to this file (mode 0600) instead of printing it.",
    metavar="F",
)


def rotation_done(r: RotationResult, what: str, as_json: bool) -> None:
    """Report a key rotation; exit 4 when a remote was left out for refused data (named on stderr)."""
    if as_json:
        emit_json(as_doc(r))
    else:
        print_rotation(r, what)
    if any(isinstance(why, Refused) for why in r.failed.values()):
        raise typer.Exit(EXIT_INTEGRITY)


def print_rotation(r: RotationResult, what: str) -> None:
    """What a key rotation did, and the new master key (shown once, like `init`)."""
    typer.echo(what)
    where = ", ".join(dict.fromkeys(r.remotes))  # (each share may have its own origin: named once)
    typer.echo(f"keys rotated to epoch {r.epoch} in {r.seconds:.2f} s ({r.bytes_written} bytes written on {where})")
    if r.following:
        typer.echo(f"these devices follow at their next pull: {', '.join(r.following)}")
    for name, why in sorted(r.failed.items()):
        typer.echo(
            f"fog: warning: remote {name} not updated ({why}); devices that only use it do not follow yet", err=True
        )
    for name, why in sorted(r.nodes_failed.items()):
        typer.echo(
            f"fog: warning: node {name} was not handed the new device list ({why}); the next push to it carries it",
            err=True,
        )
    for share in r.shared_by_others:
        typer.echo(
            f"fog: warning: share {shown(share)} is another user's: its members know you by your old key, and "
            "your pulls and pushes of it exit 6, until its owner invites your new key (send them `fog key show`'s) "
            "and you run `fog clone URL DIR --invited --from OWNER-KEY`",
            err=True,
        )
    if r.key_file_error:
        typer.echo(f"fog: warning: {r.key_file_error}: the new master key is shown below instead", err=True)
    if r.master_key:
        typer.echo(f"new master key (shown once; the old one no longer joins): {r.master_key}")
    else:
        typer.echo(f"new master key written to {r.master_key_file}")


def _mkf(path: Path | None) -> Path | None:
    return path if path is None or path.is_absolute() else STATE.cwd / path


@device_app.command()
def revoke(
    name: str = typer.Argument(..., metavar="NAME"),
    master_key_file: Path = MASTER_KEY_FILE_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Revoke a device and rotate every key it knew: it reads nothing pushed from now on."""
    r = run(lambda: api.revoke_device(fog_home(), STATE.cwd, name, _mkf(master_key_file), wait=wait), as_json)
    what = f"revoked {', '.join(r.revoked)}: its batches already on the remotes stay, later ones are refused"
    rotation_done(r, what, as_json)


@device_app.command()
def rename(
    name: str = typer.Argument(..., metavar="NAME"),
    new_name: str = typer.Argument(..., metavar="NEW"),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Rename a device."""
    d = run(lambda: api.rename_device(fog_home(), STATE.cwd, name, new_name, wait=wait), as_json)
    if as_json:
        emit_json(as_doc(d))
    else:
        typer.echo(f"renamed device {d.id[:12]} to {shown(d.name)}")


def _node_change(c, as_json: bool, text: str) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        emit_json(as_doc(c))
        return
    typer.echo(text)
    for name, why in sorted(c.failed.items()):
        typer.echo(
            f"fog: warning: remote {name} not updated ({why}); devices that only use it learn it later", err=True
        )


@device_app.command("add-untrusted")
def add_untrusted(
    name: str = typer.Argument(..., metavar="NAME", help="The node's name: also its remote's name in every share."),
    address: str = typer.Option(
        ...,
        "--address",
        metavar="HOST:PORT",
        help="Where the node listens (or fog+ssh://[USER@]HOST[:PORT]/DIR).",
    ),
    key: str = typer.Option(..., "--key", metavar="NODEKEY", help="The node key `fog serve` printed (fognode-...)."),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Add an untrusted node (fog serve): it stores every share, sees only ciphertext."""
    c = run(lambda: api.add_untrusted(fog_home(), STATE.cwd, name, address, key, wait=wait), as_json)
    _node_change(
        c,
        as_json,
        f"added untrusted node {c.device.name} at {c.device.address} (remote {c.device.url} of every share); "
        "other devices push to it from their next pull",
    )


@device_app.command()
def remove(
    name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION
) -> None:
    """Remove an untrusted node: no device pushes to it any more (what it stores stays there)."""
    c = run(lambda: api.remove_node(fog_home(), STATE.cwd, name, wait=wait), as_json)
    _node_change(c, as_json, f"removed untrusted node {c.device.name}: devices stop using it at their next pull")


@device_app.command("set-address")
def set_address(
    name: str = typer.Argument(..., metavar="NAME"),
    address: str = typer.Argument(..., metavar="ADDRESS", help="HOST:PORT, or a fog+ssh:// URL."),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Tell every device that an untrusted node moved (same node key, another address)."""
    c = run(lambda: api.set_node_address(fog_home(), STATE.cwd, name, address, wait=wait), as_json)
    _node_change(
        c, as_json, f"node {c.device.name} is now at {c.device.address}; other devices follow at their next pull"
    )
