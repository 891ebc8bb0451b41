"""fog remote add|list|remove."""

from __future__ import annotations

import typer

from fog.cli.app import app
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
from fog.cli.text import as_doc

remote_app = typer.Typer(help="Manage the remotes a share is stored on.", no_args_is_help=True)
app.add_typer(remote_app, name="remote")


@remote_app.command("list")
def list_cmd(as_json: bool = JSON_OPTION) -> None:
    """Show the share's remotes."""
    infos = run(lambda: api.remotes(fog_home(), STATE.cwd), as_json)
    if as_json:
        emit_json([as_doc(i) for i in infos])
        return
    for i in infos:
        pending = f"  ({i.pending} version(s) to publish)" if i.pending else ""
        typer.echo(f"{i.name:<12} {i.url}{pending}")


@remote_app.command()
def add(
    name: str = typer.Argument(..., metavar="NAME"),
    url: str = typer.Argument(..., help="A path, file://, sftp:// or s3:// URL.", metavar="URL"),
    s3_endpoint: str = S3_ENDPOINT_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Add a remote; the next push copies the share's history to it."""
    info = run(
        lambda: api.add_remote(fog_home(), STATE.cwd, name, remote_url(url, s3_endpoint), wait=wait),
        as_json,
    )
    if as_json:
        emit_json(as_doc(info))
    else:
        typer.echo(
            f"added remote {info.name} ({info.url}); {info.pending} version(s) will be published on the next push"
        )


@remote_app.command()
def remove(
    name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION
) -> None:
    """Forget a remote (its data is left where it is)."""
    info = run(lambda: api.remove_remote(fog_home(), STATE.cwd, name, wait=wait), as_json)
    if as_json:
        emit_json(as_doc(info))
    else:
        typer.echo(f"removed remote {info.name} ({info.url}); its data was left in place")
