"""One exception tree for everything a fog user can meet.

Each class carries the process exit code (DESIGN.md) and a message that says
what happened and, where possible, what to do about it. The CLI prints the
message as one line on stderr; nothing below the CLI prints.
"""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONFLICTS = 3
EXIT_INTEGRITY = 4
EXIT_PARTIAL = 5  # done, but some files could not be read (restic's 3; fog's 3 is conflicts)
EXIT_REVOKED = 6  # this device revoked, its master key replaced by a rotation, or this user removed from a share
EXIT_LOCKED = 75


class FogError(Exception):
    """Base of every expected fog failure."""

    exit_code: int = EXIT_ERROR
    kind: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(FogError):
    """The command line asked for something that cannot make sense."""

    exit_code = EXIT_USAGE
    kind = "usage"


class NotAShareError(FogError):
    """No `.fog/` repository was found where one was needed."""

    kind = "not-a-share"


class IdentityError(FogError):
    """FOG_HOME holds no usable identity, or a master key is malformed."""

    kind = "identity"


class PassphraseError(IdentityError):
    """FOG_HOME is sealed under a passphrase (`fog key protect`) and none, or a wrong one, was given.

    Exit 1 like every IdentityError: cron mails the line either way, and the
    fix is the user's (set FOG_PASSPHRASE_COMMAND); under --json the kind
    `passphrase` tells a script which it is.
    """

    kind = "passphrase"


class RemoteError(FogError):
    """A remote could not be reached or used (permanent unless `transient`)."""

    kind = "remote"

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ReadOnlyRemote(RemoteError):
    """A write was refused: the remote is read-only to us (mount, permissions, credentials).

    Reads still work; only commands that must write meet this error.
    """

    kind = "read-only"


class ObjectNotFound(RemoteError):
    """A name is not present on a remote (distinct from every other failure)."""

    kind = "not-found"


class AlreadyExists(RemoteError):
    """A create-only put found the name already taken."""

    kind = "exists"


class IntegrityError(FogError):
    """Data failed authentication or verification; it was refused."""

    exit_code = EXIT_INTEGRITY
    kind = "integrity"


class NotReadableYet(IntegrityError):
    """A record signed by a device this one knows that it cannot open yet: sealed with a key epoch it does
    not hold, or signed while the device list it holds names no signing key for its author. Not the
    store's doing (the signature holds, or cannot be checked yet): readers leave it for a later run,
    silently, where a record that fails its signature or its format is refused (exit 4)."""


class MissingObject(IntegrityError):
    """An object history references is in no place a remote lists (exit 4, unless explained: a version
    another device forgot, whose data was pruned, is not damage; fog.api says so, exit 1)."""

    def __init__(self, message: str, object_id: bytes = b"") -> None:
        super().__init__(message)
        self.object_id = object_id


class UnreadableObject(RemoteError, IntegrityError):
    """A remote holds something under an object name that fog refuses to read.

    Not a regular file (a FIFO, a device, a symlink), or larger than any
    object of its kind may be. A backend raises it (it is a RemoteError, so the
    backend contract holds), and it exits 4 like any refused data: the remote
    is faulty or hostile, and retrying cannot help.
    """

    kind = "integrity"


class Refused(str):
    """Why one remote was dropped from a command that uses several: its data was refused (an
    IntegrityError). The command goes on with the remotes that verify, and exits 4 (the CLI
    tells these apart from an unreachable remote's message, which exits 1)."""

    __slots__ = ()


def failure(exc: FogError) -> str:
    """The message that names a remote dropped by `exc` in a {remote: why} report (Refused for refused data)."""
    return Refused(str(exc)) if isinstance(exc, IntegrityError) else str(exc)


def none_left(errors: dict[str, str]) -> FogError:
    """The error of a command that has no remote left: IntegrityError if any was dropped for refused data."""
    text = "; ".join(f"{name}: {why}" for name, why in sorted(errors.items()))
    if any(isinstance(why, Refused) for why in errors.values()):
        return IntegrityError("no remote could be used: " + text)
    return RemoteError("no remote could be reached: " + "; ".join(errors.values()))


class LockHeldError(FogError):
    """Another fog process holds the share's lock."""

    exit_code = EXIT_LOCKED
    kind = "locked"


class RevisionError(FogError):
    """A PATH@REV did not name exactly one version."""

    kind = "revision"


class NoHistoryError(RevisionError):
    """A path (or a directory) has no version in this share's history: not in the share, or never pushed
    or pulled here.

    Every command that reads history says it in these words, exit 1 (kind `revision`), so a script tells
    "no such path" from a bad command line (exit 2).
    """

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: no history (not in the share, or never pushed or pulled)")
        self.path = path


class UnsavedChangesError(FogError):
    """An operation would overwrite local changes that were never pushed."""

    kind = "unsaved-changes"


class RevokedError(FogError):
    """This device was revoked (or the master key it holds was replaced) by a key rotation, or this
    user was removed from a shared share, or is known there only by a user key a rotation of theirs
    replaced (fog.sync.members).

    Local files are never touched; the device can no longer read what is
    pushed from then on, nor change anything the user's devices accept.
    """

    exit_code = EXIT_REVOKED
    kind = "revoked"


class KeysRotated(FogError):
    """A SyncConfig place holds key rotation records: its devices moved to a new place.

    Raised by `Remote.load_config`; `fog.sync.keyring` follows the rotation
    for a device it was sealed to, and turns it into a RevokedError otherwise.
    """

    exit_code = EXIT_REVOKED
    kind = "revoked"

    def __init__(self, message: str, records: list[dict[str, object]], config: object) -> None:
        super().__init__(message)
        self.records = records  # verified rotation records (JSON), with "name" and "by_entry" added
        self.config = config  # the old place's merged SyncConfig (None when it holds no version)


def database_error(exc: BaseException) -> FogError | None:
    """What to say of an LMDB failure after the share database opened (its meta pages are checked before
    it is mapped): a damaged page inside, or the disk. None when `exc` is not LMDB's."""
    lmdb = sys.modules.get("lmdb")
    if lmdb is None or not isinstance(exc, lmdb.Error):
        return None
    damaged = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.BadTxnError, lmdb.InvalidError, lmdb.PanicError)
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, damaged):
        return damaged_database(what)
    if "Input/output error" in what or "No space" in what or "Disk quota" in what:
        # (a write LMDB could not make: on a full disk its commit says EIO; nothing of it was recorded)
        return FogError(
            f"the share database (.fog/db) could not be written ({what}): is the share's disk full? Free some "
            "space and run the command again (nothing of this run was recorded)"
        )
    return FogError(f"the share database (.fog/db) failed: {what}")


def damaged_database(what: str) -> FogError:
    """The share database holds a damaged page (`what`: where, or LMDB's word for it)."""
    return FogError(
        f"the share database (.fog/db/data.mdb) is damaged ({what}); move the share's .fog out of it and run "
        "`fog clone URL DIR --into-existing` to rebuild it from the remote, keeping your files"
    )
