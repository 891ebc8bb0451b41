"""fog mount MOUNTPOINT: the share's history as a read-only FUSE file system, until unmounted."""

from __future__ import annotations

import threading

import typer

from fog.cli.app import app
from fog.cli.common import STATE, fog_home, run, say
from fog.errors import UsageError


@app.command()
def mount(
    mountpoint: str = typer.Argument(..., help="An empty directory outside the share.", metavar="MOUNTPOINT"),
    at: str = typer.Option(
        None,
        "--at",
        help="Mount only the share as it was then (a tree REV: a date, 2h, yesterday, push:ID, push:ID^).",
        metavar="WHEN",
    ),
) -> None:
    """Mount the share's history read-only: current/, at/TIME/, by-push/ID/, versions/PATH/ (FUSE).

    Runs in the foreground until unmounted: Ctrl-C (exit 130), SIGTERM (143),
    or `fusermount -u MOUNTPOINT` from elsewhere (exit 0).
    """
    from fog.mount import open_history

    def mount_and_serve() -> None:
        if at is not None and not at.strip():  # ('' mounted the share as it is now)
            raise UsageError(f"--at {at!r}: give WHEN (a date, 2h, yesterday, push:ID, push:ID^)")
        with open_history(fog_home(), STATE.cwd, mountpoint, at) as (fs, mp, shows):
            _serve(fs, mp, shows)

    run(mount_and_serve)


def _serve(fs: object, mp: str, shows: str) -> None:
    """Serve on a thread; the main thread waits, so a signal reaches it and unmounts cleanly."""
    from fog import cancel
    from fog.mount import unmount
    from fog.mount.fusefs import serve

    ready = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            serve(fs, mp, lambda line: say(f"fog mount: {line}"), ready.set)  # type: ignore[arg-type]
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="fog-mount", daemon=True)
    thread.start()
    told = False
    try:
        while thread.is_alive():
            thread.join(0.2)
            if ready.is_set() and not told:
                told = True
                say(f"fog mount: {mp}: {shows}; Ctrl-C or fusermount -u {mp} unmounts it")
    except cancel.Cancelled:
        if not unmount(mp):
            unmount(mp, lazy=True)  # (busy: a shell's working directory is in it)
        thread.join(0.5)
        raise
    if failure:
        raise failure[0]
    say(f"fog mount: {mp} unmounted")
