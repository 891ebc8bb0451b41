"""The typer application and its global options."""

from __future__ import annotations

from pathlib import Path

import typer

from fog import __version__
from fog.cli.common import STATE
from fog.cli.sources import use_passphrase_source

app = typer.Typer(
    name="fog",
    help="Keep a directory in sync across your devices through storage you do not trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fog {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    directory: Path = typer.Option(None, "-C", help="Run as if fog was started in DIR.", metavar="DIR"),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """fog: encrypted, versioned directory sync through untrusted storage."""
    STATE.cwd = Path.cwd()
    if directory is not None:
        if not directory.is_dir():
            raise typer.BadParameter(f"{directory} is not a directory", param_hint="-C")
        STATE.cwd = directory.absolute()
    STATE.debug = debug
    use_passphrase_source()
