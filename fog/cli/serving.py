"""What `fog serve` does, without typer: the typer command (fog.cli.serve_cmd) and the fast path for
`fog serve --stdio` (fog.cli.fast: ssh starts one per connection, so its start-up time counts) share it."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from fog.errors import UsageError

DEFAULT_LISTEN = "0.0.0.0:7463"
MIN_OBJECT = 1 << 20  # the smallest --max-object: devices make packs no larger, and any block fits
_FLAGS = {"--stdio": "stdio", "--allow-prune": "allow_prune", "--raw": "raw"}
_VALUES = {"--quota": "quota", "--max-object": "max_object", "--max-connections": "max_connections",
           "--idle-timeout": "idle_timeout", "--max-spaces": "max_spaces", "--min-free": "min_free"}  # fmt: skip


def node_options(
    *,
    allow_prune: bool = False,
    quota: str | None = None,
    max_object: str = "256M",
    max_connections: int | str = 32,
    idle_timeout: float | str = 300.0,
    users: list[str] | None = None,
    raw: bool = False,
    max_spaces: int | str = 100,
    min_free: str = "1G",
):  # type: ignore[no-untyped-def]
    """NodeOptions from the command line's values; UsageError for a bad one."""
    from fog.backends.base import MAX_SECONDS, seconds
    from fog.cli.policy_opts import parse_size
    from fog.crypto.keys import public_key_from_text
    from fog.node.server import NodeOptions

    try:
        connections = int(max_connections)
    except ValueError:
        connections = 0
    if connections < 1:
        raise UsageError(f"--max-connections {max_connections}: give a whole number, at least 1")
    try:
        idle = seconds(idle_timeout)
    except ValueError:
        raise UsageError(f"--idle-timeout {idle_timeout}: give seconds, 0 < S <= {MAX_SECONDS}") from None
    largest = parse_size(max_object, "--max-object")
    if largest < MIN_OBJECT:
        raise UsageError(
            f"--max-object {max_object}: at least 1M (a block alone is up to 256 KiB, and a device list or a "
            "batch must fit too)"
        )
    try:
        spaces = int(max_spaces)
    except ValueError:
        spaces = -1
    if spaces < 0:
        raise UsageError(f"--max-spaces {max_spaces}: give a whole number (0: no limit)")
    keys = []
    for text in users or []:
        try:
            keys.append(public_key_from_text(text)[1])
        except ValueError as e:
            raise UsageError(f"--user {text[:24]}...: {e}") from None
    return NodeOptions(
        allow_prune=allow_prune,
        quota=parse_size(quota, "--quota") if quota is not None else None,
        max_object=largest,
        max_connections=connections,
        idle_timeout=idle,
        users=tuple(keys),
        raw=raw,
        max_spaces=spaces or None,
        min_free=parse_size(min_free, "--min-free"),
    )


SHARE_MARK = (".fog", "config.json")  # what makes a directory a fog share (fog.repo.history.FOG_DIR; not
# imported from there: that module loads lmdb, and `fog serve --stdio` runs once per connection)


def check_directory(directory: Path) -> None:
    """UsageError unless DIR is (or can be made) a directory outside every fog share, and is a node's
    directory already, or empty, or new.

    A node inside a share would have its secret key (node.json) and every user's space pushed with it
    (and shown by `fog status`), as `fog init` refuses a local remote inside the share it stores. And a
    mistyped DIR (`/srv` for `/srv/fog`) holding other files would be made the node's: a key written
    there, and its mode set to 0700 (another user's access, a sticky bit gone)."""
    try:
        here = directory.resolve()
    except (OSError, RuntimeError) as e:
        raise UsageError(f"{directory}: {getattr(e, 'strerror', None) or e}") from None
    probe = here
    while not probe.exists() and probe != probe.parent:  # the nearest part that exists must be a directory
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{directory} is not a directory" + ("" if probe == here else f" ({probe} is a file)"))
    for d in (here, *here.parents):
        if os.path.isfile(os.path.join(d, *SHARE_MARK)):
            where = "is a fog share" if d == here else f"is inside the fog share {d}"
            raise UsageError(
                f"{directory} {where}: the node's key and spaces would be pushed with it (choose a directory "
                "outside it)"
            )
    if os.path.lexists(here / "node.json"):
        return
    if here.is_dir() and any(here.iterdir()):
        raise UsageError(
            f"{directory} is not empty and holds no fog node (no node.json): give a new or empty directory"
        )


def serve_stdio(directory: Path, options) -> None:  # type: ignore[no-untyped-def]
    """Serve one connection on stdin/stdout; log lines on stderr."""
    from fog.crypto.channel import FdPipe
    from fog.node.server import Node

    check_directory(directory)
    protocol_out = os.dup(1)
    os.dup2(2, 1)  # nothing but the protocol may reach the client: stray output goes to stderr
    os.umask(0o077)  # the node's directory is private: its files 0600, its directories 0700
    node = Node(directory, options)
    peer = os.environ.get("SSH_CLIENT", "").split(" ")
    node.serve_connection(FdPipe(0, protocol_out), f"{peer[0]}:{peer[1]}" if len(peer) >= 2 else "stdio")


def listen_address(text: str) -> tuple[str, str]:
    """HOST and PORT of `--listen HOST:PORT`; UsageError when it does not read as one."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isascii() or not port.isdigit() or len(port) > 5 or int(port) > 65535:
        raise UsageError(f"--listen {text!r}: give HOST:PORT, such as 0.0.0.0:7463 or 127.0.0.1:0")
    return host, port


def listen(text: str) -> socket.socket:
    """A listening socket for `--listen HOST:PORT`; UsageError when it cannot be had."""
    host, port = listen_address(text)
    try:
        return socket.create_server((host, int(port)), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def fast_stdio(args: list[str]) -> int | None:
    """`fog serve DIR --stdio [options]` without typer; None for anything else (typer then handles it)."""
    from fog.cli.text import error_line
    from fog.errors import FogError

    opts: dict[str, object] = {"users": []}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _FLAGS:
            opts[_FLAGS[arg]] = True
        elif arg in _VALUES or arg == "--user":
            if i + 1 >= len(args):
                return None
            i += 1
            if arg == "--user":
                opts["users"].append(args[i])  # type: ignore[attr-defined]
            else:
                opts[_VALUES[arg]] = args[i]
        elif arg.startswith("-"):
            return None
        else:
            positional.append(arg)
        i += 1
    if not opts.pop("stdio", False) or len(positional) != 1:
        return None
    try:
        serve_stdio(Path(positional[0]), node_options(**opts))  # type: ignore[arg-type]
    except FogError as exc:
        return error_line(exc, False)
    sys.stdout.flush()
    return 0
