"""What every command shares: global options, error rendering, output.

Only this package reads argv, the environment and the terminal.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from fog.cli.sources import resolve_remote_url
from fog.cli.text import (  # noqa: F401  -- re-exported for the command modules
    as_fog_error,
    emit_json,
    error_line,
    fog_home,
    human_age,
    human_duration,
    human_size,
    iso_utc,
    local_time,
    paint,
    report_remote_errors,
    use_color,
)
from fog.errors import FogError, database_error

T = TypeVar("T")


@dataclass
class State:
    cwd: Path
    debug: bool = False


def _start_dir() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:  # a deleted working directory: fog.cli.app says so, unless -C names an absolute one
        return Path("/")


STATE = State(_start_dir())


def fail(exc: FogError, as_json: bool) -> NoReturn:
    """One line on stderr (a JSON object under --json), then the exit code."""
    raise typer.Exit(error_line(exc, as_json))


def run(fn: Callable[[], T], as_json: bool = False) -> T:
    """Call into fog.api, turning FogError and OS failures into clean exits."""
    try:
        return fn()
    except FogError as exc:
        if STATE.debug:
            import traceback

            traceback.print_exc()
        fail(exc, as_json)
    except BrokenPipeError:
        raise  # stdout's reader went away: fog.cli.main ends quietly
    except OSError as exc:
        if STATE.debug:
            import traceback

            traceback.print_exc()
        fail(as_fog_error(exc), as_json)
    except Exception as exc:
        db_error = database_error(exc)
        if db_error is None or STATE.debug:
            raise
        fail(db_error, as_json)


def stdout_console():  # type: ignore[no-untyped-def]
    """A rich Console on stdout whose reader going away ends fog with 141, as every other output does
    (fog.cli.main; rich's own handling exits 1 without a word). Not on a terminal (a file, a pipe, cron's
    mail) nothing is cut to a width (a path shortened with "…" is not the path) and no line ends in the
    spaces that pad a table's cells."""
    from rich.console import Console

    class _Stdout(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    if sys.stdout.isatty():
        return _Stdout(highlight=False, soft_wrap=True)
    return _Stdout(file=_TrimmedLines(sys.stdout), width=1 << 16, highlight=False, soft_wrap=True)


class _TrimmedLines:
    """A text stream writing whole lines to `out`, each without its trailing spaces."""

    def __init__(self, out: Any) -> None:
        self.out, self.held = out, ""

    def write(self, s: str) -> int:
        *lines, self.held = (self.held + s).split("\n")
        if lines:
            self.out.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(s)

    def flush(self) -> None:
        if self.held:
            self.out.write(self.held.rstrip(" "))
            self.held = ""
        self.out.flush()

    def isatty(self) -> bool:
        return False


def stderr_console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def say(message: str, quiet: bool = False) -> None:
    """A human message on stderr (never on stdout, which carries results)."""
    if not quiet:
        sys.stderr.write(message + "\n")


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, only when stderr is a terminal: bytes done of the total, the rate
    and the time left, in the units the summary lines use (KiB, MiB, GiB: powers of 1024).

    It appears at the first call, which brings the total (never "0/?" while a command plans), so a
    command with nothing to move (a pull that finds no change) shows none."""
    with progress_bars([label], enabled) as (update,):
        yield update


@contextmanager
def progress_bars(labels: list[str], enabled: bool) -> Iterator[tuple[Callable[[int, int], None] | None, ...]]:
    """One bar per label (`fog sync`: pull, then push) in one display, each shown at its first call."""
    if not enabled or not sys.stderr.isatty():
        yield tuple(None for _ in labels)
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, ProgressColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):  # (rich's TransferSpeedColumn counts in powers of 1000: MB/s beside MiB)
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("?/s" if speed is None else f"{human_size(speed)}/s", style="progress.data.speed")

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(binary_units=True),
        Rate(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=True,
    )
    # Started at the first call, not here: its refresh thread would otherwise run from the start of the
    # command, and a push forks its workers only while no such thread exists (fog.forking).
    started = threading.Lock()
    shown: list[bool] = []

    def updater(label: str) -> Callable[[int, int], None]:
        task = bar.add_task(label, total=None, visible=False)

        def update(done: int, total: int) -> None:
            if not shown:
                with started:
                    if not shown:
                        bar.start()
                        shown.append(True)
            bar.update(task, completed=done, total=total, visible=True)

        return update

    try:
        yield tuple(updater(label) for label in labels)
    finally:
        if shown:
            bar.stop()


JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")
WAIT_OPTION = typer.Option(False, "--wait", help="Wait for another fog process to release the share.")


def remote_url(url: str, s3_endpoint: str | None = None) -> str:
    """The URL to store for a remote the user typed (fog.cli.sources.resolve_remote_url, from STATE.cwd)."""
    return resolve_remote_url(url, STATE.cwd, s3_endpoint)


MAX_DELETE_OPTION = typer.Option(
    None,
    "--max-delete",
    help="Refuse to publish or apply more deletions than N files or P% of the share (default 50%, at least 10).",
    metavar="N|P%",
)
NO_PROGRESS_OPTION = typer.Option(False, "--no-progress", help="Never show a progress bar.")


class _LazyApi:
    """fog.api, imported on first use: `fog --help` and completion never pay for
    the crypto, LMDB and compression libraries behind it."""

    def __getattr__(self, name: str) -> Any:
        import fog.api

        return getattr(fog.api, name)


api: Any = _LazyApi()
S3_ENDPOINT_OPTION = typer.Option(
    None, "--s3-endpoint", help="S3-compatible endpoint URL (or FOG_S3_ENDPOINT).", metavar="URL"
)
DEVICE_NAME_OPTION = typer.Option(
    None, "--device-name", help="This device's name (default: host name).", metavar="NAME"
)
