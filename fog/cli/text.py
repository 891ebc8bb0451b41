"""What commands print, without typer: shared by the typer commands and the fast path.

Nothing here imports typer, click, rich or fog.api, so `fog.cli.fast` can
answer a cron-style `fog push -q` without paying for them.
"""

from __future__ import annotations

import json
import os
import sys
import time

from fog.errors import EXIT_CONFLICTS, EXIT_ERROR, EXIT_INTEGRITY, EXIT_PARTIAL, FogError, Refused
from fog.format.names import shown

TYPE_CHECKING = False  # not typing's: typing and pathlib each cost `fog log` 0.04 s to import
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


def echo(message: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n")
    stream.flush()


def fog_home() -> Path:
    """FOG_HOME, or the platform's per-user config directory for fog."""
    from pathlib import Path

    return Path(fog_home_str())


def fog_home_str() -> str:
    """fog_home() as a string, without importing pathlib."""
    env = os.environ.get("FOG_HOME")
    if env:
        return os.path.expanduser(env)
    from platformdirs import user_config_dir

    return str(user_config_dir("fog"))


def as_fog_error(exc: OSError) -> FogError:
    """An OS failure as the one-line error fog reports (exit 1)."""
    where = f": {exc.filename}" if exc.filename else ""
    err = FogError(f"{exc.strerror or exc}{where}")
    err.exit_code = EXIT_ERROR
    return err


def error_line(exc: FogError, as_json: bool) -> int:
    """One line on stderr (a JSON object under --json); returns the exit code."""
    if as_json:
        sys.stderr.write(json.dumps({"code": exc.exit_code, "kind": exc.kind, "message": exc.message}) + "\n")
    else:
        sys.stderr.write(f"fog: {shown(exc.message)}\n")  # one line, whatever a name in it holds
    return exc.exit_code


_PLAIN = frozenset({str, int, float, bool, type(None)})  # JSON leaves as they are


def as_doc(obj: Any) -> Any:
    """A result dataclass (or a list or dict of them) as JSON-ready data.

    What dataclasses.asdict returns, without its deep copy of every value: a
    push of 100,000 files spent 1.3 s copying the path strings of its result.
    """
    from dataclasses import fields, is_dataclass

    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_doc(getattr(obj, f.name)) for f in fields(obj) if f.repr}  # repr=False: internal
    if isinstance(obj, list | tuple):
        return [x if type(x) in _PLAIN else as_doc(x) for x in obj]  # (a push's 100,000 paths: 0.13 -> 0.01 s)
    if isinstance(obj, dict):
        return {k: as_doc(v) for k, v in obj.items()}
    return obj


def emit_json(doc: Any) -> None:
    """Write one JSON document, as it is encoded (json.dumps held every piece of it at once: a clone's
    200,000 paths, ~25 MB). A list that only reads in order (fog.pathlist.PathList) is read as written.
    A password in a URL (a remote's error message repeats its endpoint) prints as `***`, as on stderr:
    each piece (a whole JSON string) is masked, so no chunk boundary splits a URL."""
    from fog.cli.redact import redact

    write, pieces, size = sys.stdout.write, [], 0
    for piece in json.JSONEncoder(indent=2, ensure_ascii=False, default=_json_default).iterencode(doc):
        piece = redact(piece)
        pieces.append(piece)
        size += len(piece)
        if size > 1 << 16:
            write("".join(pieces))
            pieces, size = [], 0
    pieces.append("\n")
    write("".join(pieces))


class _Streamed(list):  # type: ignore[type-arg]
    """A sequence json's encoder reads as a list, item by item (it asks a list for its length and items)."""

    def __init__(self, items: Any) -> None:
        super().__init__()
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Any:
        return iter(self._items)


def _json_default(obj: Any) -> Any:
    from collections.abc import Sequence

    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes):
        return _Streamed(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def report_remote_errors(errors: dict[str, str], as_json: bool) -> int:
    """Name each remote that failed (one line each); exit 4 if one was dropped for refused data
    (fog.errors.Refused: the most serious wins), else 1 if any failed."""
    for name, message in sorted(errors.items()):
        refused = isinstance(message, Refused)
        if as_json:
            code, kind = (EXIT_INTEGRITY, "integrity") if refused else (EXIT_ERROR, "remote")
            sys.stderr.write(json.dumps({"code": code, "kind": kind, "remote": name, "message": message}))
            sys.stderr.write("\n")
        elif refused:
            sys.stderr.write(f"fog: remote {name} refused, not used by this command: {shown(message)}\n")
        else:
            hint = ""
            if "is the disk mounted?" in message:  # a disk this device may never see: say how to leave it to others
                hint = (
                    f" (mounted elsewhere here: `fog remote set-url {name} PATH --local`;"
                    f" never here: `fog remote skip {name}`)"
                )
            sys.stderr.write(f"fog: remote {name} failed: {shown(message)}{hint}\n")
    if any(isinstance(m, Refused) for m in errors.values()):
        return EXIT_INTEGRITY
    return EXIT_ERROR if errors else 0


def push_exit(result: Any, as_json: bool) -> int:
    """1 if a remote failed, else 5 if some file could not be read, else 0 (push's exit code)."""
    failed = report_remote_errors(result.remote_errors, as_json)
    return failed or (EXIT_PARTIAL if result.unread else 0)


def push_summary(result: Any, quiet: bool) -> None:
    """fog push's human output (result: fog.sync.push.PushResult)."""
    for s in result.skipped:
        echo(f"fog: skipped {shown(s)}", err=True)
    for path in result.snapshots:
        echo(f"fog: {shown(path)} kept changing while it was read: recorded from a copy taken now", err=True)
    if quiet:
        return
    if result.dry_run:
        for paths, mark in ((result.added, "A"), (result.modified, "M"), (result.deleted, "D")):
            for p in paths:
                echo(f"{mark} {shown(p)}")
    n = len(result.added) + len(result.modified) + len(result.deleted)
    if n == 0 and not result.batches:
        if not result.remote_errors:  # (else what waits for a failed remote is not published: said below)
            echo("Nothing to push.")
        return
    rate = result.bytes_read / result.seconds if result.seconds else 0
    where = ", ".join(f"{r} batch {b}" for r, b in sorted(result.batches.items()))
    echo(
        f"{'would push' if result.dry_run else 'pushed'} {n} change(s) ({len(result.added)} added, "
        f"{len(result.modified)} modified, {len(result.deleted)} deleted): read {result.files_read} files "
        f"({human_size(result.bytes_read)}), uploaded {human_size(result.bytes_uploaded)}, "
        f"dedupe saved {human_size(result.bytes_deduped)}, {human_duration(result.seconds)} "
        f"({human_size(rate)}/s)" + (f"; {where}" if where else "")
    )


_PULL_LINES = (  # what a pull reports on stderr, in this order: (result field, line)
    ("kept", "fog: kept local changes to {} (changed here and elsewhere)"),
    ("conflicts", "fog: conflict: wrote {}"),
    ("problems", "fog: {}"),
    ("warnings", "fog: warning: {}"),
    ("foreign_logs", ""),
    ("skipped", "fog: skipped {}"),
    ("failed", "fog: not applied (retried by the next pull): {}"),
    ("remotes_added", "fog: this device now also uses remote {} (from the share's settings)"),
    ("remotes_removed", "fog: remote {} was removed on another device; this device no longer uses it"),
)


def pull_summary(r: Any, quiet: bool) -> None:
    """fog pull's human output (r: fog.sync.pull.PullResult)."""
    for field_name, line in _PULL_LINES:
        if quiet and field_name in ("remotes_added", "remotes_removed"):
            continue  # (news, not trouble: cron mails nothing for a sync that went well)
        if field_name == "foreign_logs":
            for f in r.foreign_logs:
                if f["new"]:
                    echo(f"fog: warning: {foreign_log_text(f['log'], f['remote'])}", err=True)
            continue
        for item in getattr(r, field_name):
            if field_name == "kept" and item in getattr(r, "kept_deleted", ()):
                echo(
                    f"fog: kept local changes to {shown(item)} (changed here, deleted elsewhere: a push keeps it)",
                    err=True,
                )
                continue
            echo(line.format(shown(item)), err=True)
    if not quiet:
        rate = r.bytes_written / r.seconds if r.seconds else 0
        forgot = r.forgotten
        echo(
            f"pulled {r.versions} version(s) in {r.batches} batch(es): {len(r.updated)} updated "
            f"({human_size(r.bytes_written)}), {len(r.deleted)} deleted, {len(r.conflicts)} conflict(s), "
            + (f"{forgot} old version(s) forgotten by another device, " if forgot else "")
            + f"{human_duration(r.seconds)} ({human_size(rate)}/s)"
        )


def foreign_log_text(log: str, remote: str) -> str:
    """One line about a log no device owns (pull reports it once; check at every run)."""
    return (
        f"log {log[:12]} on remote {remote} belongs to no device in your fog settings: set aside, nothing in it "
        f"applied (a damaged identity or a foreign writer; delete log/{log} on the remote once you know which)"
    )


def clone_summary(result: Any) -> None:
    """What `fog clone` did, in words (the pull's report follows)."""
    echo(f"Cloned share {result.name!r} into {result.root} as device {result.device!r}")
    if getattr(result, "name_taken", None):
        echo(
            f"fog: warning: another device is named {result.name_taken!r} already: this one is {result.device!r} "
            f"(`fog device rename {result.device} NAME` to choose another)",
            err=True,
        )
    if getattr(result, "invited_by", None):
        echo(f"Invited by {shown(result.invited_by)} (check this key with them)")
    if not result.device_published:
        echo(
            f"fog: remote {result.remote} is read-only: this device joins your fog settings "
            "with its first push to a writable remote",
            err=True,
        )
    for name, why in sorted(getattr(result, "nodes_failed", {}).items()):
        echo(
            f"fog: warning: node {name} did not learn this device yet ({why}); its first push there tells it", err=True
        )
    pull_summary(result.pull, False)


def pull_exit(r: Any, as_json: bool, unread: bool = False) -> int:
    """4 if data was refused, else 1 if a remote failed, else 5 if a path could not be applied
    here or (sync's push) a file could not be read, else 3 on conflicts, else 0."""
    failed = report_remote_errors(r.remote_errors, as_json)
    if r.problems:
        return EXIT_INTEGRITY
    if failed:
        return failed
    if unread or r.failed:
        return EXIT_PARTIAL
    if r.conflicts:
        return EXIT_CONFLICTS
    return 0


def status_doc(result: Any, ignored: bool = False) -> dict[str, Any]:
    doc = {
        "root": result.root,
        "clean": result.clean,
        "added": result.added,
        "modified": result.modified,
        "deleted": result.deleted,
        "skipped": result.skipped,
        "unread": result.unread,
        "conflicts": result.conflicts,
        "unapplied": result.unapplied,
    }
    if ignored:
        doc["ignored"] = result.ignored
    return doc


def status_summary(result: Any, ignored: bool = False) -> None:
    """fog status's human output (result: fog.api.StatusResult); `ignored`: list the ignored paths too."""
    if result.clean:
        echo("Nothing to push: the share matches its last push.")
    for title, paths, mark in (
        ("Added", result.added, "A"),
        ("Modified", result.modified, "M"),
        ("Deleted", result.deleted, "D"),
    ):
        if paths:
            echo(f"{title}:")
            for p in paths:
                echo(f"  {mark} {shown(p)}")
    if result.conflicts:
        echo("Unresolved conflict copies (compare, keep what you want, delete the copy):")
        for p in result.conflicts:
            echo(f"  C {shown(p)}")
    if result.unapplied:
        echo("Not written here yet (a pull could not; the next pull tries again, see its message):")
        for p in result.unapplied:
            echo(f"  U {shown(p)}")
    if ignored and result.ignored:
        echo("Ignored (by .fogignore or the built-in rules; never pushed):")
        for p in result.ignored:
            echo(f"  ! {shown(p)}")
    for s in result.skipped:
        echo(f"fog: skipped {shown(s)}", err=True)


def iso_utc(ns: int) -> str:
    """A UTC time, ISO 8601; past the year 9999 (a time no device can have stamped, but a batch can
    carry any number), the last second a date can be written as, never an error."""
    try:
        text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 1_000_000_000))
    except (OverflowError, OSError, ValueError):
        text = ""
    return text if len(text) == 20 else "9999-12-31T23:59:59Z" if ns > 0 else "1970-01-01T00:00:00Z"


def moment_json(ns: int | None) -> str | None:
    """The time a tree REV resolved to, for --json: ISO 8601 UTC to the nanosecond (`...T08:05:56.123456789Z`:
    a push's "right before" is 1 ns before it), None for the current state."""
    if ns is None:
        return None
    return f"{iso_utc(ns)[:-1]}.{ns % 1_000_000_000:09d}Z"


def local_time(ns: int) -> str:
    """A local time to the second, as a REV takes it back. During the hour a clock turned back shows twice
    (DST ends), the UTC offset follows (`2026-10-25 02:30:30+01:00`): without it the time names two moments."""
    secs = ns // 1_000_000_000
    try:
        tm = time.localtime(secs)
    except (OverflowError, OSError, ValueError):
        return iso_utc(ns)
    text = time.strftime("%Y-%m-%d %H:%M:%S", tm)
    if len(text) != 19:  # (a year past 9999)
        return iso_utc(ns)
    if _ambiguous(secs, tm.tm_gmtoff):
        off = tm.tm_gmtoff
        sign, off = ("-", -off) if off < 0 else ("+", off)
        text += f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
    return text


def _ambiguous(secs: int, offset: int) -> bool:
    """Whether the local wall-clock time of `secs` is also that of another moment (a clock turned back)."""
    wall = secs + offset
    for probe in (secs - 3 * 3600, secs + 3 * 3600):  # (zones turn their clocks by at most 2 h)
        try:
            other = time.localtime(probe).tm_gmtoff
            if other != offset and wall - other != secs and time.localtime(wall - other).tm_gmtoff == other:
                return True
        except (OverflowError, OSError, ValueError):
            continue
    return False


def human_age(ns: int, now_ns: int | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago', '7 weeks ago'."""
    seconds = ((now_ns if now_ns is not None else time.time_ns()) - ns) / 1e9
    if seconds < 0:
        return "in the future"
    for limit, unit, div in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600), (14 * 86400, "days", 86400)):
        if seconds < limit:
            n = int(seconds // div)
            if unit == "days" and n == 1:
                unit = "day"
            return "just now" if unit == "s" and seconds < 10 else f"{n} {unit} ago"
    return f"{int(seconds // (7 * 86400))} weeks ago"


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org) or TERM=dumb."""
    stream = stream or sys.stdout
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


_ANSI = {"black": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35, "cyan": 36, "white": 37}


def paint(text: str, color: str, enabled: bool) -> str:
    """`text` in a terminal colour (the same escape codes as click.style(text, fg=color))."""
    return f"\x1b[{_ANSI[color]}m{text}\x1b[0m" if enabled else text


def log_json(e: Any) -> dict[str, object]:
    """One `fog log --json` entry (e: fog.api.LogEntry)."""
    v = e.version
    return {
        "version": v.id.hex(),
        "path": v.path,
        "time": iso_utc(v.time_ns),
        "time_ns": v.time_ns,
        "device": e.device_name,
        "device_id": v.device,
        "kind": v.kind,
        "size": v.size,
        "mode": f"{v.mode:04o}",
        "mtime": iso_utc(v.mtime_ns),
        "deleted": v.deleted,
        "conflict": v.conflict,
        "current": e.current,
        "parent": v.parent.hex() if v.parent else None,
    }


def log_table(entries: list[Any], indent: str = "") -> None:
    """`fog log`'s human output: one aligned line per version, newest first."""
    color = use_color()
    rows = []
    for e in entries:
        v = e.version
        marks = []
        if e.current:  # (also a deletion: the path is deleted now, as JSON says)
            marks.append(paint("current", "green", color))
        if v.deleted:
            marks.append(paint("deleted", "red", color))
        if v.conflict:
            marks.append(paint("conflict", "yellow", color))
        size = "-" if v.kind in ("deleted", "dir") else human_size(v.size)
        rows.append(
            (
                [v.id.hex()[:12], local_time(v.time_ns), human_age(v.time_ns), shown(e.device_name), size, v.kind],
                shown(v.path),
                marks,
            )
        )
    widths = [max((len(r[0][i]) for r in rows), default=0) for i in range(6)]
    for cells, vpath, marks in rows:
        padded = [c.rjust(w) if i == 4 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        padded[0] = paint(padded[0], "yellow", color)
        echo(indent + "  ".join([*padded, vpath]) + (f"  ({', '.join(marks)})" if marks else ""))
    if not entries:
        echo("No versions match.", err=True)


def names_the_share(cwd: str | os.PathLike[str], path: str) -> bool:
    """Whether PATH (relative to `cwd`) is the top of the share `cwd` is in (`.` at the top, `..` below)."""
    from fog.repo.history import find_root  # (light: the fast path's)

    top = find_root(os.fspath(cwd))
    return top is not None and os.path.realpath(os.path.join(cwd, path)) == os.path.realpath(top)
