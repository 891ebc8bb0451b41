"""fog share invite|members|remove-member: sharing a share with another user."""

from __future__ import annotations

import typer

from fog.cli.app import WholeSummaries, app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, run
from fog.cli.text import as_doc, shown

share_app = typer.Typer(cls=WholeSummaries, help="Share this share with another fog user.", no_args_is_help=True)
app.add_typer(share_app, name="share")


SHARE_ARGUMENT = typer.Argument(
    None,
    help="Which share (its name or id; default: the one the current directory is in).",
    metavar="SHARE",
)


@share_app.command()
def invite(
    share: str = SHARE_ARGUMENT,
    user: str = typer.Option(..., "--user", help="The other user's key, as `fog key show` prints it.", metavar="KEY"),
    name: str = typer.Option(None, "--name", help="What to call them here (default: user-<id>).", metavar="NAME"),
    read_only: bool = typer.Option(False, "--read-only", help="They may read, but their pushes are refused."),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Invite another user: the share's keys, sealed so that only they can open them."""
    inv = run(
        lambda: api.share_invite(fog_home(), STATE.cwd, user, name=name, read_only=read_only, share=share, wait=wait),
        as_json,
    )
    if as_json:
        emit_json(as_doc(inv))
        return
    mode = "read-only" if inv.read_only else "read-write"
    typer.echo(f"invited {inv.user} ({inv.user_id[:12]}) to {inv.share}, {mode}; the invitation waits on {inv.remote}")
    typer.echo(f"they run: fog clone URL DIR --invited   (URL: this share's remote {inv.remote})")


@share_app.command("members")
def members_cmd(share: str = SHARE_ARGUMENT, as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION) -> None:
    """List the users who share this share, and their devices."""
    listed = run(lambda: api.share_members(fog_home(), STATE.cwd, share=share, wait=wait), as_json)
    if as_json:
        emit_json([as_doc(m) for m in listed])
        return
    for m in listed:
        me = " (you)" if m.this_user else ""
        devices = ", ".join(shown(d) for d in m.devices) or "-"
        typer.echo(f"{shown(m.name):<16} {m.user_id[:12]}  {m.role:<9}  devices: {devices}{me}")


@share_app.command("remove-member")
def remove_member(
    who: str = typer.Argument(..., metavar="NAME"),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Remove a member: their later batches are refused, and data pushed from now on uses a new key."""
    m = run(lambda: api.share_remove_member(fog_home(), STATE.cwd, who, wait=wait), as_json)
    if as_json:
        emit_json(as_doc(m))
    else:
        typer.echo(
            f"removed {m.name} ({m.user_id[:12]}): the share's key rotated; they read nothing pushed from now on"
        )
