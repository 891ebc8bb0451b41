"""fog serve DIR: run an untrusted node that stores the user's devices' ciphertext (docs/FORMAT.md, section 17)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from fog.cli.app import app
from fog.cli.common import run
from fog.cli.serving import DEFAULT_LISTEN, check_directory, listen, listen_address, node_options, serve_stdio
from fog.errors import UsageError


@app.command()
def serve(
    directory: Path = typer.Argument(
        ..., help="The node's directory (its key, one store per user), outside any fog share.", metavar="DIR"
    ),
    address: str = typer.Option(
        None,
        "--listen",
        help=f"Address to listen on (default {DEFAULT_LISTEN}; port 0 picks one).",
        metavar="HOST:PORT",
    ),
    stdio: bool = typer.Option(False, "--stdio", help="Serve one connection on stdin/stdout, then exit (for ssh)."),
    show_key: bool = typer.Option(False, "--show-key", help="Print the node key and exit."),
    allow_prune: bool = typer.Option(False, "--allow-prune", help="Let devices delete packs, logs, prune records."),
    quota: str = typer.Option(None, "--quota", help="Most bytes one user may store (500M, 10G...).", metavar="SIZE"),
    max_object: str = typer.Option(
        "256M", "--max-object", help="Largest object accepted (at least 1M).", metavar="SIZE"
    ),
    max_connections: int = typer.Option(32, "--max-connections", help="Connections served at once.", metavar="N"),
    idle_timeout: float = typer.Option(300.0, "--idle-timeout", help="Seconds a connection may idle.", metavar="S"),
    user: list[str] = typer.Option(
        None,
        "--user",
        help="Only this user (fogpub-...) may start a space here (repeatable; without it, anyone who can "
        "reach the node may).",
        metavar="KEY",
    ),
    max_spaces: int = typer.Option(
        100, "--max-spaces", help="Most spaces (users) on the node; 0: no limit.", metavar="N"
    ),
    min_free: str = typer.Option(
        "1G", "--min-free", help="Disk space a put must leave free (0: none).", metavar="SIZE"
    ),
    raw: bool = typer.Option(
        False, "--raw", help="Plain byte store: no layout or append-only rules (devices you trust not to erase)."
    ),
) -> None:
    """Serve DIR as an untrusted node: it holds no key to your data, only ciphertext."""
    from fog.crypto.keys import node_key_to_text
    from fog.node.server import Node

    if stdio and address is not None:
        run(lambda: _raise(UsageError("--stdio and --listen exclude each other")))
    opts = run(
        lambda: node_options(
            allow_prune=allow_prune,
            quota=quota,
            max_object=max_object,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            users=user,
            raw=raw,
            max_spaces=max_spaces,
            min_free=min_free,
        )
    )
    if stdio and not show_key:
        run(lambda: serve_stdio(directory, opts))
        return
    listening = DEFAULT_LISTEN if address is None else address
    run(lambda: listen_address(listening))  # (a bad address is refused before anything is made or changed)
    run(lambda: check_directory(directory))
    os.umask(0o077)  # the node's directory is private: its files 0600, its directories 0700
    node = run(lambda: Node(directory, opts))
    key = node_key_to_text(node.public)
    if show_key:
        typer.echo(key)
        return
    sock = run(lambda: listen(listening))
    host, bound = sock.getsockname()[:2]
    if node.created:
        typer.echo(f"node key  {key}")
        typer.echo(f"add it on a trusted device: fog device add-untrusted NAME --address HOST:{bound} --key {key}")
    sys.stdout.flush()
    sys.stderr.write(f"fog serve: listening on {host}:{bound} (node key {key})\n")
    sys.stderr.flush()
    try:
        node.serve_tcp(sock)
    finally:
        sock.close()


def _raise(exc: Exception) -> None:
    raise exc
