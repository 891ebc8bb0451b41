"""fog serve DIR: run an untrusted node that stores the user's devices' ciphertext (docs/FORMAT.md, section 17)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import typer

from fog.cli.app import app
from fog.cli.common import run
from fog.errors import UsageError

DEFAULT_LISTEN = f"0.0.0.0:{7463}"


@app.command()
def serve(
    directory: Path = typer.Argument(
        ..., help="The node's directory (its key, and one store per user).", metavar="DIR"
    ),
    listen: str = typer.Option(
        None,
        "--listen",
        help=f"Address to listen on (default {DEFAULT_LISTEN}; port 0 picks one).",
        metavar="HOST:PORT",
    ),
    stdio: bool = typer.Option(False, "--stdio", help="Serve one connection on stdin/stdout, then exit (for ssh)."),
    show_key: bool = typer.Option(False, "--show-key", help="Print the node key and exit."),
    allow_prune: bool = typer.Option(False, "--allow-prune", help="Let devices delete packs, logs, prune records."),
    quota: str = typer.Option(None, "--quota", help="Most bytes one user may store (500M, 10G...).", metavar="SIZE"),
    max_object: str = typer.Option("256M", "--max-object", help="Largest object accepted.", metavar="SIZE"),
    max_connections: int = typer.Option(32, "--max-connections", help="Connections served at once.", metavar="N"),
    idle_timeout: float = typer.Option(300.0, "--idle-timeout", help="Seconds a connection may idle.", metavar="S"),
    user: list[str] = typer.Option(
        None, "--user", help="Only this user (fogpub-...) may start a space here (repeatable).", metavar="KEY"
    ),
    raw: bool = typer.Option(
        False, "--raw", help="Plain byte store: no layout or append-only rules (devices you trust not to erase)."
    ),
) -> None:
    """Serve DIR as an untrusted node: it holds no key to your data, only ciphertext."""
    from fog.cli.policy_opts import parse_size
    from fog.crypto.keys import node_key_to_text, public_key_from_text
    from fog.node.server import Node, NodeOptions

    def options() -> NodeOptions:
        if stdio and listen is not None:
            raise UsageError("--stdio and --listen exclude each other")
        if max_connections < 1 or idle_timeout <= 0:
            raise UsageError("--max-connections and --idle-timeout must be positive")
        users = []
        for text in user or []:
            try:
                users.append(public_key_from_text(text)[1])
            except ValueError as e:
                raise UsageError(f"--user {text[:24]}...: {e}") from None
        return NodeOptions(
            allow_prune=allow_prune,
            quota=parse_size(quota, "--quota") if quota is not None else None,
            max_object=parse_size(max_object, "--max-object"),
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            users=tuple(users),
            raw=raw,
        )

    opts = run(options)
    host, port = run(lambda: _address(listen or DEFAULT_LISTEN))
    if stdio:
        protocol_out = os.dup(1)
        os.dup2(2, 1)  # nothing but the protocol may reach the client: stray output goes to stderr
        node = run(lambda: Node(directory, opts))
        peer = os.environ.get("SSH_CLIENT", "").split(" ")
        label = f"{peer[0]}:{peer[1]}" if len(peer) >= 2 else "stdio"
        from fog.crypto.channel import FdPipe

        node.serve_connection(FdPipe(0, protocol_out), label)
        return
    node = run(lambda: Node(directory, opts))
    key = node_key_to_text(node.public)
    if show_key:
        typer.echo(key)
        return
    sock = run(lambda: _listen(host, port))
    bound = sock.getsockname()[1]
    if node.created:
        typer.echo(f"node key  {key}")
        typer.echo(f"add it on a trusted device: fog device add-untrusted NAME --address HOST:{bound} --key {key}")
    sys.stderr.write(f"fog serve: listening on {host}:{bound} (node key {key})\n")
    sys.stderr.flush()
    try:
        node.serve_tcp(sock)
    finally:
        sock.close()


def _listen(host: str, port: int) -> socket.socket:
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text!r}: give HOST:PORT, such as 0.0.0.0:7463 or 127.0.0.1:0")
    return host, int(port)
