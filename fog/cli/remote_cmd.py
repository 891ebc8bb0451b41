"""fog remote add|list|remove|set-url|renew|skip|unskip."""

from __future__ import annotations

import json
import sys

import typer

from fog.cli.app import WholeSummaries, app
from fog.cli.common import (
    JSON_OPTION,
    S3_ENDPOINT_OPTION,
    STATE,
    WAIT_OPTION,
    api,
    emit_json,
    fog_home,
    remote_url,
    run,
)
from fog.cli.redact import redact
from fog.cli.text import as_doc
from fog.errors import EXIT_ERROR, UsageError

remote_app = typer.Typer(
    cls=WholeSummaries,
    help="Manage the remotes a share is stored on (kept in your fog settings: every device learns them).",
    no_args_is_help=True,
)
app.add_typer(remote_app, name="remote")


@remote_app.command("list")
def list_cmd(
    as_json: bool = JSON_OPTION,
    offline: bool = typer.Option(False, "--offline", help="Do not try to reach each remote."),
) -> None:
    """Show the share's remotes: URL, whether this device reaches each, versions still to publish."""
    infos = [_masked(i) for i in run(lambda: api.remotes(fog_home(), STATE.cwd, probe=not offline), as_json)]
    if as_json:
        emit_json([as_doc(i) for i in infos])
        return
    for i in infos:
        if i.skipped:
            state = "skipped on this device"
        elif i.reachable is None:
            state = ""
        elif i.reachable and i.refused:
            state = f"REFUSED: {i.refused}"
        elif i.reachable:
            state = "reachable"
        else:
            state = f"UNREACHABLE: {i.error}"
        queued = [f"{i.pending} version(s)" if i.pending else "", f"{i.forgets} forget(s)" if i.forgets else ""]
        pending = (
            " and ".join(q for q in queued if q) + " to publish"
            if i.pending or i.forgets
            else "up to date"
            if not i.skipped and not i.refused
            else ""
        )
        if i.replaced:
            state += f"{'; ' if state else ''}this device's {i.replaced} was replaced by it (added elsewhere too)"
        local = f" (this device; shared URL {i.shared_url})" if i.shared_url else ""
        local += " (untrusted node)" if i.node else ""
        typer.echo("  ".join(x for x in (f"{i.name:<12} {i.url}{local}", state, pending) if x))


def _masked(info):  # type: ignore[no-untyped-def]
    """A remote's URLs as printed: a password in one shows as *** (fog.cli.redact; the settings keep it)."""
    from dataclasses import replace

    return replace(
        info,
        url=redact(info.url),
        shared_url=redact(info.shared_url),
        error=redact(info.error),
        replaced=redact(info.replaced),
        stranded_at=redact(info.stranded_at),
    )


def _show(info, as_json: bool, text: str) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        emit_json(as_doc(_masked(info)))
    else:
        typer.echo(redact(text))


@remote_app.command()
def add(
    name: str = typer.Argument(..., metavar="NAME"),
    url: str = typer.Argument(..., help="A path, file://, sftp:// or s3:// URL.", metavar="URL"),
    s3_endpoint: str = S3_ENDPOINT_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Add a remote for every device; the next push copies the share's history to it."""
    info = run(
        lambda: api.add_remote(fog_home(), STATE.cwd, name, remote_url(url, s3_endpoint), wait=wait),
        as_json,
    )
    _show(
        info,
        as_json,
        f"added remote {info.name} ({info.url}); {info.pending} version(s) will be published on the next push; "
        "other devices start using it at their next pull",
    )


@remote_app.command()
def remove(
    name: str = typer.Argument(..., metavar="NAME"),
    force: bool = typer.Option(
        False, "--force", help="Remove it even if it holds versions the other remotes were not given yet."
    ),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Remove a remote for every device (its data is left where it is)."""
    info = run(lambda: api.remove_remote(fog_home(), STATE.cwd, name, force=force, wait=wait), as_json)
    _show(info, as_json, f"removed remote {info.name} ({info.url}); its data was left in place")
    if info.stranded and not as_json:
        sys.stderr.write(
            f"fog: warning: {info.stranded} version(s) that only {info.name} held stay queued for the other "
            "remotes, and the later versions of their paths wait behind them: keep its data; "
            f"`fog remote add {info.name} {redact(info.stranded_at)}` again lets a push copy them over\n"
        )
    _undelivered(info, as_json, "removal")


@remote_app.command("set-url")
def set_url(
    name: str = typer.Argument(..., metavar="NAME"),
    url: str = typer.Argument(None, help="The new URL.", metavar="URL"),
    local: bool = typer.Option(False, "--local", help="Only on this device (a disk mounted elsewhere here)."),
    reset: bool = typer.Option(False, "--reset", help="Drop this device's own URL: use the shared one again."),
    force: bool = typer.Option(
        False, "--force", help="Change it even if the old store holds versions the new one and the others lack."
    ),
    s3_endpoint: str = S3_ENDPOINT_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Change a remote's URL for every device, or with --local for this device only."""
    if reset == (url is not None):
        run(lambda: (_ for _ in ()).throw(UsageError("give a URL, or --reset (not both)")), as_json)
    new = None if reset else remote_url(url, s3_endpoint)
    info = run(
        lambda: api.set_remote_url(fog_home(), STATE.cwd, name, new, local=local or reset, force=force, wait=wait),
        as_json,
    )
    where = "on this device" if local or reset else "for every device"
    _show(info, as_json, f"remote {info.name} is {info.url} {where}")
    if info.stranded and not as_json:
        sys.stderr.write(
            f"fog: warning: {info.stranded} version(s) that only the old store of {info.name} held stay queued, "
            f"and the later versions of their paths wait behind them: keep its data; `fog remote add OTHERNAME "
            f"{redact(info.stranded_at)}` lets a push copy them over (then `fog remote remove OTHERNAME`)\n"
        )
    _undelivered(info, as_json, "new URL")


@remote_app.command()
def renew(
    name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION
) -> None:
    """Accept a remote as it is now (restored from an older copy): every device publishes its versions there again."""
    info = run(lambda: api.renew_remote(fog_home(), STATE.cwd, name, wait=wait), as_json)
    _show(
        info,
        as_json,
        f"remote {info.name} ({info.url}) is accepted as it is now, for every device; {info.pending} version(s) "
        "will be published there on the next push; other devices do the same at their next pull or push",
    )


def _undelivered(info, as_json: bool, change: str) -> None:  # type: ignore[no-untyped-def]
    """Exit 1, saying so in one line, when the remote's old URL could not get the change (it was down): the
    devices that read only that store learn it when this device's next push, pull or sync reaches it."""
    if not info.undelivered:
        return
    message = (
        f"{info.name} is unreachable ({redact(info.undelivered)}): the {change} is delivered there by this "
        f"device's next push, pull or sync that reaches it; until then the devices that use only {info.name} "
        "do not know it"
    )
    if as_json:
        doc = {"code": EXIT_ERROR, "kind": "remote", "remote": info.name, "message": message}
        sys.stderr.write(json.dumps(doc) + "\n")
    else:
        sys.stderr.write(f"fog: {message}\n")
    raise typer.Exit(EXIT_ERROR)


@remote_app.command()
def skip(
    name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION
) -> None:
    """Stop using a remote on this device (it cannot reach it); other devices keep it complete."""
    info = run(lambda: api.skip_remote(fog_home(), STATE.cwd, name, True, wait=wait), as_json)
    _show(info, as_json, f"remote {info.name} is skipped on this device; `fog remote unskip {info.name}` undoes it")


@remote_app.command()
def unskip(
    name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION
) -> None:
    """Use a skipped remote on this device again."""
    info = run(lambda: api.skip_remote(fog_home(), STATE.cwd, name, False, wait=wait), as_json)
    _show(info, as_json, f"remote {info.name} ({info.url}) is used on this device again")
