"""fog clone, pull, sync: joining a device and exchanging changes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
    remote_url,
    run,
)
from fog.cli.text import as_doc, pull_exit, pull_summary, push_summary
from fog.crypto.keys import master_key_from_text
from fog.errors import IdentityError, UsageError


def read_master_key(path: Path | None) -> bytes:
    """From --master-key-file, FOG_MASTER_KEY_FILE, FOG_MASTER_KEY_COMMAND, or a prompt on a terminal.

    Never from a command-line value: argv is visible to every user of the machine.
    """
    env_file = os.environ.get("FOG_MASTER_KEY_FILE")
    command = os.environ.get("FOG_MASTER_KEY_COMMAND")
    source = path or (Path(env_file) if env_file else None)
    if source is not None:
        try:
            text = source.read_text()
        except OSError as exc:
            raise IdentityError(f"cannot read the master key file {source}: {exc.strerror}") from None
    elif command:
        text = _run_key_command(command)
    elif sys.stdin.isatty():
        import getpass

        text = getpass.getpass("Master key: ")
    else:
        raise UsageError(
            "no master key: pass --master-key-file F, or set FOG_MASTER_KEY_FILE or FOG_MASTER_KEY_COMMAND"
        )
    try:
        return master_key_from_text(text)
    except ValueError as exc:
        raise IdentityError(f"invalid master key: {exc}") from None


def _run_key_command(command: str) -> str:
    """Run FOG_MASTER_KEY_COMMAND (e.g. `pass show fog`) and return its first line."""
    import shlex
    import subprocess

    try:
        proc = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise IdentityError(f"FOG_MASTER_KEY_COMMAND failed to run: {exc}") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [""])[0]
        raise IdentityError(f"FOG_MASTER_KEY_COMMAND exited {proc.returncode}: {first}")
    return (proc.stdout.strip().splitlines() or [""])[0]


@app.command()
def clone(
    url: str = typer.Argument(..., help="The remote holding the user's data.", metavar="URL"),
    directory: Path = typer.Argument(..., help="Where to put the share (new or empty).", metavar="DIR"),
    share: str = typer.Option(None, "--share", help="Which share, when the user has several.", metavar="NAME"),
    master_key_file: Path = typer.Option(
        None, "--master-key-file", help="Read the master key from this file.", metavar="F"
    ),
    device_name: str = DEVICE_NAME_OPTION,
    s3_endpoint: str = S3_ENDPOINT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Join this device with the master key and pull a share into DIR."""
    target = directory if directory.is_absolute() else STATE.cwd / directory
    key = run(lambda: read_master_key(master_key_file), as_json)
    result = run(
        lambda: api.clone(fog_home(), remote_url(url, s3_endpoint), target, key, share=share, device_name=device_name),
        as_json,
    )
    if as_json:
        emit_json(as_doc(result))
    else:
        typer.echo(f"Cloned share {result.name!r} into {result.root} as device {result.device!r}")
        pull_summary(result.pull, False)
    raise typer.Exit(pull_exit(result.pull, as_json))


@app.command()
def pull(
    remote: str = typer.Argument(None, help="Remote name (default: origin).", metavar="[REMOTE]"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and conflicts."),
    max_delete: str = MAX_DELETE_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Fetch other devices' changes and apply them."""
    result = run(lambda: api.pull(fog_home(), STATE.cwd, remote=remote, wait=wait, max_delete=max_delete), as_json)
    if as_json:
        emit_json(as_doc(result))
    else:
        pull_summary(result, quiet)
    raise typer.Exit(pull_exit(result, as_json))


@app.command()
def sync(
    remote: str = typer.Argument(None, help="Remote name (default: origin).", metavar="[REMOTE]"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and conflicts."),
    max_delete: str = MAX_DELETE_OPTION,
    no_progress: bool = NO_PROGRESS_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Pull, then push: the command for cron."""
    with progress_bar("push", not (quiet or as_json or no_progress)) as progress:
        result = run(
            lambda: api.sync(fog_home(), STATE.cwd, remote=remote, wait=wait, progress=progress, max_delete=max_delete),
            as_json,
        )
    if as_json:
        emit_json(as_doc(result))
    else:
        pull_summary(result.pull, quiet)
        push_summary(result.push, quiet)
    errors = {**result.pull.remote_errors, **result.push.remote_errors}
    result.pull.remote_errors = errors
    raise typer.Exit(pull_exit(result.pull, as_json))
