"""fog init: create a share (and this device's identity on first use)."""

from __future__ import annotations

from pathlib import Path

import typer

from fog.cli.app import app
from fog.cli.common import (
    DEVICE_NAME_OPTION,
    JSON_OPTION,
    S3_ENDPOINT_OPTION,
    STATE,
    api,
    emit_json,
    fog_home,
    remote_url,
    run,
)
from fog.cli.redact import redact


@app.command()
def init(
    directory: Path = typer.Argument(..., help="Directory to share (created if missing).", metavar="DIR"),
    remote: str = typer.Option(
        ..., "--remote", "-r", help="Remote: a directory path, file://, sftp:// or s3:// URL.", metavar="URL"
    ),
    s3_endpoint: str = S3_ENDPOINT_OPTION,
    master_key_file: Path = typer.Option(
        None,
        "--master-key-file",
        help="Write a new master key to this file (mode 0600) instead of printing it.",
        metavar="F",
    ),
    name: str = typer.Option(None, "--name", help="Share name (default: the directory name).", metavar="SHARE"),
    device_name: str = DEVICE_NAME_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a new share in DIR, stored encrypted on a remote."""
    target = directory if directory.is_absolute() else STATE.cwd / directory
    mkf = master_key_file if master_key_file is None or master_key_file.is_absolute() else STATE.cwd / master_key_file
    result = run(
        lambda: api.init(
            fog_home(), target, remote_url(remote, s3_endpoint), name=name, master_key_file=mkf, device_name=device_name
        ),
        as_json,
    )
    if as_json:
        emit_json(
            {
                "root": result.root,
                "share_id": result.share_id,
                "name": result.name,
                "remote": redact(result.remote),
                "device": result.device,
                "new_identity": result.new_identity,
                "master_key_file": result.master_key_file,
                "master_key": result.master_key_text,
            }
        )
        return
    typer.echo(f"Initialized share {result.name!r} in {result.root}")
    typer.echo(f"Remote: {redact(result.remote)}")
    if result.master_key_file:
        typer.echo(f"Master key written to {result.master_key_file} (mode 0600). Keep it somewhere safe.")
    elif result.master_key_text:
        typer.echo("")
        typer.echo("Your master key (shown once; a new device needs it to join):")
        typer.echo("")
        typer.echo(f"    {result.master_key_text}")
        typer.echo("")
        typer.echo("WARNING: write it down and keep it secret. Anyone with it and access to the remote")
        typer.echo("can read your files; without it (and without this device) they cannot be recovered.")
