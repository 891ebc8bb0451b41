"""fog clone, pull, sync: joining a device and exchanging changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from fog.cli.app import app
from fog.cli.common import (
    DEVICE_NAME_OPTION,
    JSON_OPTION,
    MAX_DELETE_OPTION,
    NO_PROGRESS_OPTION,
    S3_ENDPOINT_OPTION,
    STATE,
    WAIT_OPTION,
    api,
    emit_json,
    fog_home,
    progress_bar,
    progress_bars,
    remote_url,
    run,
    say,
)
from fog.cli.forget_cmd import forget_doc, forget_summary
from fog.cli.prune_cmd import prune_summary
from fog.cli.sources import read_master_key
from fog.cli.text import as_doc, clone_summary, pull_exit, pull_summary, push_summary


@app.command()
def clone(
    url: str = typer.Argument(..., help="The remote holding the user's data.", metavar="URL"),
    directory: Path = typer.Argument(..., help="Where to put the share (new or empty).", metavar="DIR"),
    share: str = typer.Option(
        None, "--share", help="Which share (its name or id), when the user has several.", metavar="SHARE"
    ),
    master_key_file: Path = typer.Option(
        None,
        "--master-key-file",
        help="Read the master key from this file (else FOG_MASTER_KEY_FILE, else the first line FOG_MASTER_KEY_COMMAND "
        "prints, else a prompt on a terminal).",
        metavar="F",
    ),
    device_name: str = DEVICE_NAME_OPTION,
    s3_endpoint: str = S3_ENDPOINT_OPTION,
    into_existing: bool = typer.Option(
        False,
        "--into-existing",
        help="DIR holds the share's files already (its .fog/ was lost or moved aside): rebuild .fog/ "
        "around them, keeping every local edit.",
    ),
    invited: bool = typer.Option(
        False,
        "--invited",
        help="Take a share another user invited you to (`fog share invite`), with your own identity; "
        "on a machine without one, --master-key-file F receives your new master key.",
    ),
    inviter: str = typer.Option(
        None,
        "--from",
        help="With --invited: take only an invitation from this user key (fogpub-..., from the owner).",
        metavar="KEY",
    ),
    no_progress: bool = NO_PROGRESS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Join this device with the master key and pull a share into DIR.

    The master key comes from --master-key-file F, else the file named by
    FOG_MASTER_KEY_FILE, else the first line printed by the shell command in
    FOG_MASTER_KEY_COMMAND (e.g. 'pass show fog | head -1'), else a prompt on
    the terminal (typed without echo). It is never taken as a command-line value.
    """
    target = directory if directory.is_absolute() else STATE.cwd / directory
    if invited:
        mkf = (
            master_key_file if master_key_file is None or master_key_file.is_absolute() else STATE.cwd / master_key_file
        )
        _clone_done(
            lambda progress: api.clone_invited(
                fog_home(),
                remote_url(url, s3_endpoint),
                target,
                share=share,
                device_name=device_name,
                master_key_file=mkf,
                inviter=inviter,
                progress=progress,
            ),
            as_json,
            no_progress,
        )
    # (a prompt: before any bar)
    key = run(lambda: read_master_key(master_key_file, str(fog_home()), STATE.cwd), as_json)
    _clone_done(
        lambda progress: api.clone(
            fog_home(),
            remote_url(url, s3_endpoint),
            target,
            key,
            share=share,
            device_name=device_name,
            into_existing=into_existing,
            progress=progress,
        ),
        as_json,
        no_progress,
    )


def _clone_done(do: Callable[[Any], Any], as_json: bool, no_progress: bool) -> None:
    """Run a clone (a bar on a terminal as its pull writes) and report it: the summary or JSON, and the
    pull's exit code."""
    with progress_bar("clone", not (as_json or no_progress)) as progress:
        result = run(lambda: do(progress), as_json)
    if as_json:
        emit_json(as_doc(result))
    else:
        clone_summary(result)
    raise typer.Exit(pull_exit(result.pull, as_json))


@app.command()
def pull(
    remote: str = typer.Argument(None, help="Pull from this remote only (default: every remote).", metavar="REMOTE"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and conflicts."),
    max_delete: str = MAX_DELETE_OPTION,
    no_progress: bool = NO_PROGRESS_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Fetch other devices' changes and apply them."""
    with progress_bar("pull", not (quiet or as_json or no_progress)) as progress:
        result = run(
            lambda: api.pull(fog_home(), STATE.cwd, remote=remote, wait=wait, max_delete=max_delete, progress=progress),
            as_json,
        )
    if as_json:
        emit_json(as_doc(result))
    else:
        pull_summary(result, quiet)
    raise typer.Exit(pull_exit(result, as_json))


@app.command()
def sync(
    remote: str = typer.Argument(None, help="Sync with this remote only (default: every remote).", metavar="REMOTE"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and conflicts."),
    max_delete: str = MAX_DELETE_OPTION,
    no_progress: bool = NO_PROGRESS_OPTION,
    prune: bool = typer.Option(
        False,
        "--prune",
        help="Then, at most once a day, forget what the share's retention policy lets go and prune every remote.",
    ),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Pull, then push: the command for cron."""
    with progress_bars(["pull", "push"], not (quiet or as_json or no_progress)) as (pulled, pushed):
        result = run(
            lambda: api.sync(
                fog_home(),
                STATE.cwd,
                remote=remote,
                wait=wait,
                progress=pushed,
                pull_progress=pulled,
                max_delete=max_delete,
                trim=prune,
            ),
            as_json,
        )
    if as_json:
        doc = as_doc(result)
        if result.trim is not None:
            doc["trim"]["forget"] = forget_doc(result.trim.forget)
        emit_json(doc)
    else:
        pull_summary(result.pull, quiet)
        push_summary(result.push, quiet)
        if result.trim is not None and not quiet:
            trim_summary(result.trim)  # (its clock notes and waiting lines too)
        else:  # what needs someone is said under --quiet too: a clock gone wrong, a device blocking every deletion
            for note in result.clock:
                typer.echo(f"fog: warning: {note}", err=True)
            for r in result.trim.prune.remotes if result.trim is not None else ():
                if r.stuck:  # (one line a remote: the intents stack up, one a day, behind the same device)
                    more = f" (and {len(r.stuck) - 1} more intent(s))" if len(r.stuck) > 1 else ""
                    typer.echo(
                        f"fog: warning: remote {r.remote}: {r.stuck[0]}{more}; until then nothing is deleted "
                        "there (`fog device revoke` a device that is gone)",
                        err=True,
                    )
    errors = {**result.pull.remote_errors, **result.push.remote_errors}
    if result.trim is not None:
        for name, why in {**result.trim.forget.remote_errors, **result.trim.prune.failed}.items():
            errors.setdefault(name, why)
        for name, why in result.trim.prune.refused.items():
            errors.setdefault(name, f"prune refused: {why}")
    result.pull.remote_errors = errors
    raise typer.Exit(pull_exit(result.pull, as_json, bool(result.push.unread)))


def trim_summary(trim: Any) -> None:
    """What `sync --prune` forgot and pruned."""
    if trim.clock_held_s > 0:
        say(
            f"note: this device's clock is {trim.clock_held_s / 86400:.1f} d past what this trim forgets by "
            "(a trim moves keep-deleted and keep-within on by at most 7 days: a clock set far ahead must not "
            "erase deleted files' history); check the clock if it is wrong"
        )
    forget_summary(trim.forget)
    prune_summary(trim.prune)
