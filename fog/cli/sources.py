"""Where a command's inputs come from: the master key and remote URLs. Free of typer.

Shared by the typer commands and the fast path (fog.cli.fast), which must not
import typer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fog.crypto.keys import master_key_from_text
from fog.errors import IdentityError, UsageError


def key_source_given(path: str | None, home: str | None = None) -> bool:
    """Whether the master key comes from a file, a command, or this device's identity (no prompt)."""
    given = path or os.environ.get("FOG_MASTER_KEY_FILE") or os.environ.get("FOG_MASTER_KEY_COMMAND")
    return bool(given or (home is not None and _stored_key(home) is not None))


def _stored_key(home: str) -> str | None:
    """FOG_HOME/master-key of a device that has an identity already (a clone on a joined device)."""
    if os.path.exists(os.path.join(home, "identity.json")) and os.path.exists(os.path.join(home, "master-key")):
        return os.path.join(home, "master-key")
    return None


def read_master_key(path: Path | None, home: str | None = None) -> bytes:
    """From --master-key-file, FOG_MASTER_KEY_FILE, FOG_MASTER_KEY_COMMAND, this device's identity
    (FOG_HOME/master-key, when `home` holds one), or a prompt on a terminal.

    Never from a command-line value: argv is visible to every user of the machine.
    """
    env_file = os.environ.get("FOG_MASTER_KEY_FILE")
    command = os.environ.get("FOG_MASTER_KEY_COMMAND")
    source = path or (Path(env_file) if env_file else None)
    stored = _stored_key(home) if home is not None and source is None and not command else None
    source = source or (Path(stored) if stored else None)
    if source is not None:
        try:
            text = source.read_bytes().decode("utf-8")
        except OSError as exc:
            raise IdentityError(f"cannot read the master key file {source}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise IdentityError(
                f"the master key file {source} is not text (not UTF-8): it should hold the key as `fog init` showed it"
            ) from None
    elif command:
        text = _run_key_command(command)
    elif sys.stdin.isatty():
        import getpass

        text = getpass.getpass("Master key: ")
    else:
        raise UsageError(
            "no master key: pass --master-key-file F, or set FOG_MASTER_KEY_FILE or FOG_MASTER_KEY_COMMAND"
        )
    try:
        return master_key_from_text(text)
    except ValueError as exc:
        raise IdentityError(f"invalid master key: {exc}") from None


def _run_key_command(command: str) -> str:
    """Run FOG_MASTER_KEY_COMMAND (e.g. `pass show fog`) and return its first line."""
    import shlex
    import subprocess

    try:
        proc = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise IdentityError(f"FOG_MASTER_KEY_COMMAND failed to run: {exc}") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [""])[0]
        raise IdentityError(f"FOG_MASTER_KEY_COMMAND exited {proc.returncode}: {first}")
    return (proc.stdout.strip().splitlines() or [""])[0]


def resolve_remote_url(url: str, cwd: Path, s3_endpoint: str | None = None) -> str:
    """The URL to store for a remote the user typed.

    A relative path is made absolute (relative to `cwd`: where fog runs, or
    -C), so later commands run from anywhere reach the same place. For s3://
    the endpoint (--s3-endpoint or FOG_S3_ENDPOINT) is saved in the URL's query.
    """
    if "://" not in url:
        return os.path.normpath(cwd / Path(url).expanduser())
    endpoint = s3_endpoint or os.environ.get("FOG_S3_ENDPOINT")
    if url.lower().startswith("s3://") and endpoint and "endpoint=" not in url:
        from urllib.parse import quote

        url += ("&" if "?" in url else "?") + "endpoint=" + quote(endpoint, safe=":/")
    return url
