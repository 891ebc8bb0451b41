"""Where a command's inputs come from: the master key, FOG_HOME's passphrase, remote URLs. Free of typer.

Shared by the typer commands and the fast path (fog.cli.fast), which must not
import typer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fog.crypto.keys import master_key_from_text
from fog.errors import IdentityError, PassphraseError, UsageError

TYPE_CHECKING = False  # (see fog.cli.text)
if TYPE_CHECKING:
    from collections.abc import Callable


def key_source_given(path: str | None, home: str | None = None) -> bool:
    """Whether the master key comes from a file, a command, or this device's identity (no prompt)."""
    given = path or os.environ.get("FOG_MASTER_KEY_FILE") or os.environ.get("FOG_MASTER_KEY_COMMAND")
    return bool(given or (home is not None and _stored_key(home) is not None))


def _stored_key(home: str) -> str | None:
    """FOG_HOME/master-key of a device that has an identity already (a clone on a joined device)."""
    if os.path.exists(os.path.join(home, "identity.json")) and os.path.exists(os.path.join(home, "master-key")):
        return os.path.join(home, "master-key")
    return None


def read_master_key(path: Path | None, home: str | None = None, cwd: Path | None = None) -> bytes:
    """From --master-key-file, FOG_MASTER_KEY_FILE, FOG_MASTER_KEY_COMMAND, this device's identity
    (FOG_HOME/master-key, when `home` holds one), or a prompt on a terminal. A relative file name is
    relative to `cwd` (`-C DIR`: as if fog was started there, as for init's and key rotate's).

    Never from a command-line value: argv is visible to every user of the machine.
    """
    env_file = os.environ.get("FOG_MASTER_KEY_FILE")
    command = os.environ.get("FOG_MASTER_KEY_COMMAND")
    source = path or (Path(env_file) if env_file else None)
    if source is not None and cwd is not None and not source.is_absolute():
        source = cwd / source
    stored = _stored_key(home) if home is not None and source is None and not command else None
    source = source or (Path(stored) if stored else None)
    if source is not None:
        try:
            text = _open_key_file(source).decode("utf-8")
        except OSError as exc:
            raise IdentityError(f"cannot read the master key file {source}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise IdentityError(
                f"the master key file {source} is not text (not UTF-8): it should hold the key as `fog init` showed it"
            ) from None
    elif command:
        text = _run_command("FOG_MASTER_KEY_COMMAND", command)
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


KEY_FILE_LIMIT = 64 << 10  # a key is 32 characters, a sealed one a few hundred bytes


def _open_key_file(path: Path) -> bytes:
    """A master key file's bytes; one sealed under FOG_HOME's passphrase (FOG_HOME/master-key of a
    protected home, or a copy of it) is opened. Read up to KEY_FILE_LIMIT: `/dev/zero` or a wrong big
    file is refused, never read whole (a pipe, as from `<(pass show fog)`, is fine)."""
    with open(path, "rb") as f:
        raw = f.read(KEY_FILE_LIMIT + 1)
    if len(raw) > KEY_FILE_LIMIT:
        raise IdentityError(
            f"the master key file {path} holds over {KEY_FILE_LIMIT >> 10} KiB: it should hold the key as "
            "`fog init` showed it"
        )
    if not raw.startswith(b"fog-sealed "):  # fog.format.sealed.PREFIX
        return raw
    from fog.repo import vault

    return vault.open_file(path, raw)


def use_passphrase_source() -> None:
    """Give fog.repo.vault `passphrase` as its source, for this command (keys derived before are forgotten)."""
    from fog.repo import vault

    vault.use_passphrase(passphrase)


def passphrase(home: Path) -> str:
    """The passphrase of a protected FOG_HOME: from FOG_PASSPHRASE_COMMAND, else a prompt on a terminal.

    The source fog.repo.vault asks when it meets a sealed file (never for a home in clear).
    """
    command = os.environ.get("FOG_PASSPHRASE_COMMAND")
    if command:
        return _run_command("FOG_PASSPHRASE_COMMAND", command, PassphraseError)
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"Passphrase of {home}: ")
    raise PassphraseError(
        f"{home} is sealed under a passphrase: set FOG_PASSPHRASE_COMMAND (a command that prints it, "
        "for cron), or run fog on a terminal"
    )


def new_passphrase(changing: bool) -> str:
    """The passphrase `fog key protect` seals FOG_HOME under: FOG_NEW_PASSPHRASE_COMMAND, else (a home in
    clear) FOG_PASSPHRASE_COMMAND, else asked twice on a terminal."""
    command = os.environ.get("FOG_NEW_PASSPHRASE_COMMAND")
    if command:
        return _run_command("FOG_NEW_PASSPHRASE_COMMAND", command, PassphraseError)
    command = os.environ.get("FOG_PASSPHRASE_COMMAND")
    if command and not changing:
        return _run_command("FOG_PASSPHRASE_COMMAND", command, PassphraseError)
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("New passphrase: ")
        if not first.strip():
            raise PassphraseError("the passphrase is empty; nothing was changed")
        if getpass.getpass("The same again: ") != first:
            raise PassphraseError("the two passphrases differ; nothing was changed")
        return first
    if changing:
        raise PassphraseError(
            "no new passphrase: set FOG_NEW_PASSPHRASE_COMMAND (FOG_PASSPHRASE_COMMAND gives the current one), "
            "or run fog key protect on a terminal"
        )
    raise PassphraseError("no passphrase: set FOG_PASSPHRASE_COMMAND, or run fog key protect on a terminal")


def _run_command(variable: str, command: str, error: Callable[[str], IdentityError] = IdentityError) -> str:
    """Run the command in `variable` (e.g. FOG_MASTER_KEY_COMMAND='pass show fog | head -1') and return its
    first line. It runs through /bin/sh, as git runs credential helpers: pipes, `$VAR` and `~` work."""
    import subprocess

    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise error(f"{variable} failed to run: {exc}") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [""])[0]
        if proc.returncode in (126, 127):  # the shell found no such command, or could not run it
            raise error(f"{variable} failed to run: {first}")
        said = f": {first}" if first else " (it said nothing on stderr)"
        raise error(f"{variable} exited {proc.returncode}{said}")
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
