"""The typer application and its global options."""

from __future__ import annotations

from pathlib import Path

import typer
from typer import _click as click
from typer.core import TyperGroup

from fog import __version__
from fog.cli.common import STATE, fail
from fog.cli.sources import use_passphrase_source
from fog.errors import FogError

# `fog --help` lists the commands by use, everyday first (typer would list them as the modules register them)
COMMAND_ORDER = (
    "status", "push", "pull", "sync", "log", "diff", "cat", "restore",  # every day
    "ls", "find", "mount",  # history
    "init", "clone",  # once per share, once per device
    "check", "stats", "forget", "prune",  # upkeep
    "remote", "device", "key", "policy", "share",  # settings
    "serve",  # an untrusted node
)  # fmt: skip


class WholeSummaries(TyperGroup):
    """A command group whose help lists each command's summary whole: `fog` and each of its groups
    (`fog remote -h`, `fog device -h`, ...), which pass it as `cls`."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's first sentence whole, wrapped (click cuts it at the terminal's width with `...`)."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _ByUse(WholeSummaries):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


app = typer.Typer(
    name="fog",
    cls=_ByUse,
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
    if directory is None or not directory.is_absolute():
        try:
            STATE.cwd = Path.cwd()
        except FileNotFoundError:
            fail(
                FogError(
                    "the current directory no longer exists (deleted, or moved away?): cd into an existing "
                    "directory, or name the share with an absolute -C DIR"
                ),
                False,
            )
    if directory is not None:
        if not directory.is_dir():
            raise typer.BadParameter(f"{directory} is not a directory", param_hint="-C")
        STATE.cwd = directory.absolute()
    STATE.debug = debug
    use_passphrase_source()
