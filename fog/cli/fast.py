"""A fast path for the commands cron runs (`push`, `pull`, `sync`, `status`), `log` and `clone`.

Building the typer application costs about 0.35 s per run here (typer, click,
pydantic and every command's signature), as much as a whole push that finds
nothing to do. This module answers the common, non-interactive invocations of
those commands (log: PATH, -n and --json; clone: with its key from a file or
a command) from argv alone and returns None for anything else (`--help`, an
unknown or combined option, `--debug`, a progress bar on a terminal, a key
prompt...), which then goes through typer exactly as before. Both paths
call the same fog.api functions and print through fog.cli.text, and
tests/cli/test_fast.py runs the same commands both ways and compares them.
FOG_NO_FAST=1 turns it off.
"""

from __future__ import annotations

import os
import sys

from fog.cli import text
from fog.errors import FogError

TYPE_CHECKING = False  # (see fog.cli.text) `fog log` must not pay for importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_FLAGS = {
    "push": {"-q": "quiet", "--quiet": "quiet", "-n": "dry_run", "--dry-run": "dry_run", "--json": "as_json",
             "--no-progress": "no_progress", "--wait": "wait"},
    "pull": {"-q": "quiet", "--quiet": "quiet", "--json": "as_json", "--no-progress": "no_progress", "--wait": "wait"},
    "sync": {"-q": "quiet", "--quiet": "quiet", "--json": "as_json", "--no-progress": "no_progress", "--wait": "wait"},
    "status": {"--json": "as_json", "--wait": "wait", "--ignored": "ignored"},
    "log": {"--json": "as_json"},
    "clone": {"--json": "as_json", "--into-existing": "into_existing", "--no-progress": "no_progress"},
}  # fmt: skip
_VALUES = {
    "push": {"--max-delete": "max_delete"},
    "pull": {"--max-delete": "max_delete"},
    "sync": {"--max-delete": "max_delete"},
    "status": {},
    "log": {"-n": "limit", "--max-count": "limit"},
    "clone": {"--share": "share", "--master-key-file": "master_key_file", "--device-name": "device_name",
              "--s3-endpoint": "s3_endpoint"},
}  # fmt: skip
_POSITIONAL = {"push": "remote", "pull": "remote", "sync": "remote", "log": "path"}  # one optional argument
_REQUIRED = {"clone": ("url", "directory")}  # positional arguments that must all be there


def parse(argv: list[str]) -> tuple[str, str, dict[str, Any]] | None:
    """(command, working directory, options) for an invocation this path handles, else None.

    The directory is a string as pathlib would spell it (`Path(...).absolute()`).
    """
    args = list(argv)
    if args[:1] == ["-C"]:
        if len(args) < 2 or not os.path.isdir(args[1]):
            return None  # typer words the usage error
        if not os.path.isabs(args[1]) and not _cwd_exists():
            return None  # typer words it
        cwd = _absolute(args[1])
        args = args[2:]
    elif _cwd_exists():
        cwd = os.getcwd()
    else:
        return None  # a deleted working directory: typer words it
    if not args or args[0] not in _FLAGS:
        return None
    command, rest = args[0], args[1:]
    flags, values = _FLAGS[command], _VALUES[command]
    opts: dict[str, Any] = {name: False for name in flags.values()}
    opts.update({name: None for name in values.values()})
    positional = _POSITIONAL.get(command)
    if positional:
        opts[positional] = None
    required = list(_REQUIRED.get(command, ()))
    for name in required:
        opts[name] = None
    i = 0
    while i < len(rest):
        arg = rest[i]
        name, eq, value = arg.partition("=")
        if arg in flags:
            opts[flags[arg]] = True
        elif name in values:
            if not eq:
                if i + 1 >= len(rest):
                    return None
                i += 1
                value = rest[i]
            opts[values[name]] = value
        elif positional and not arg.startswith("-") and opts[positional] is None:
            opts[positional] = arg
        elif required and not arg.startswith("-"):
            opts[required.pop(0)] = arg
        else:
            return None
        i += 1
    if required:
        return None  # a missing argument: typer words the usage error
    if command == "log" and opts["limit"] is not None:
        if not (opts["limit"].isascii() and opts["limit"].isdigit() and len(opts["limit"]) <= 18):
            return None  # typer explains what -n takes
        opts["limit"] = int(opts["limit"])
    if command == "clone":
        from fog.cli.sources import key_source_given

        if not key_source_given(opts["master_key_file"], text.fog_home_str()):
            return None  # a prompt on a terminal, or typer's usage error
    if command in ("push", "sync", "pull", "clone") and not (
        opts.get("quiet") or opts["as_json"] or opts["no_progress"]
    ):
        if sys.stderr.isatty():
            return None  # a progress bar: typer's path draws it
    return command, cwd, opts


def _cwd_exists() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return False
    return True


def _absolute(path: str) -> str:
    from pathlib import Path

    return str(Path(path).absolute())


def run(argv: list[str]) -> int | None:
    """Run the invocation and return its exit code, or None to let typer handle it."""
    if os.environ.get("FOG_NO_FAST"):
        return None
    if argv == ["--version"]:
        from fog import __version__

        text.echo(f"fog {__version__}")
        return 0
    if argv[:1] == ["serve"] and "--stdio" in argv:
        from fog.cli.serving import fast_stdio  # ssh runs one per connection: no typer

        return fast_stdio(argv[1:])
    parsed = parse(argv)
    if parsed is None:
        return None
    command, where, o = parsed
    as_json = o["as_json"]
    if command == "log" and o["path"] and text.names_the_share(where, o["path"]):
        o["path"] = None  # `fog log .` at the top: the whole share, as `fog log`
    if command == "log" and o["path"] is not None:
        from fog.repo import history  # lmdb and json: no fog.api (see fog.repo.history)

        quick = history.quick_log(text.fog_home_str(), where, o["path"], o["limit"])
        if quick is not None:
            text.emit_json([text.log_json(e) for e in quick]) if as_json else text.log_table(quick)
            return 0
    if command == "log" and not as_json:
        return None  # the share or a directory: grouped by push (fog.cli.log_cmd)
    from pathlib import Path

    from fog import api
    from fog.cli.sources import use_passphrase_source

    use_passphrase_source()
    home, cwd = text.fog_home(), Path(where)

    def call(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except FogError as exc:
            raise _Exit(text.error_line(exc, as_json)) from None
        except BrokenPipeError:
            raise  # stdout's reader went away: fog.cli.main ends quietly
        except OSError as exc:
            raise _Exit(text.error_line(text.as_fog_error(exc), as_json)) from None

    try:
        if command == "clone":
            return _clone(o, home, cwd, call)
        if command == "log":
            limit = o["limit"]
            if o["path"] is None and limit is None and not as_json:
                limit = 50
            filt = api.LogFilter(limit, None, None, None)
            entries = call(lambda: api.log(home, cwd, o["path"], filt=filt))
            text.emit_json([text.log_json(e) for e in entries]) if as_json else text.log_table(entries)
            return 0
        if command == "status":
            result = call(lambda: api.status(home, cwd, wait=o["wait"]))
            shown = o["ignored"]
            text.emit_json(text.status_doc(result, shown)) if as_json else text.status_summary(result, shown)
            return 0
        if command == "push":
            result = call(
                lambda: api.push(
                    home, cwd, remote=o["remote"], dry_run=o["dry_run"], wait=o["wait"], max_delete=o["max_delete"]
                )
            )
            text.emit_json(text.as_doc(result)) if as_json else text.push_summary(result, o["quiet"])
            return text.push_exit(result, as_json)
        if command == "pull":
            result = call(lambda: api.pull(home, cwd, remote=o["remote"], wait=o["wait"], max_delete=o["max_delete"]))
            text.emit_json(text.as_doc(result)) if as_json else text.pull_summary(result, o["quiet"])
            return text.pull_exit(result, as_json)
        result = call(lambda: api.sync(home, cwd, remote=o["remote"], wait=o["wait"], max_delete=o["max_delete"]))
        if as_json:
            text.emit_json(text.as_doc(result))
        else:
            text.pull_summary(result.pull, o["quiet"])
            text.push_summary(result.push, o["quiet"])
        result.pull.remote_errors = {**result.pull.remote_errors, **result.push.remote_errors}
        return text.pull_exit(result.pull, as_json, bool(result.push.unread))
    except _Exit as stop:
        return stop.code


def _clone(o: dict[str, Any], home: Any, cwd: Any, call: Callable[[Callable[[], Any]], Any]) -> int:
    """`fog clone URL DIR` with a key from a file or a command (what fog.cli.sync_cmds.clone does)."""
    from pathlib import Path

    from fog import api
    from fog.cli.sources import read_master_key, resolve_remote_url

    as_json = o["as_json"]
    directory = Path(o["directory"])
    target = directory if directory.is_absolute() else cwd / directory
    key_file = Path(o["master_key_file"]) if o["master_key_file"] else None
    key = call(lambda: read_master_key(key_file, str(home), cwd))
    url = resolve_remote_url(o["url"], cwd, o["s3_endpoint"])
    result = call(
        lambda: api.clone(
            home, url, target, key, share=o["share"], device_name=o["device_name"], into_existing=o["into_existing"]
        )
    )
    if as_json:
        text.emit_json(text.as_doc(result))
    else:
        text.clone_summary(result)
    return text.pull_exit(result.pull, as_json)


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code
