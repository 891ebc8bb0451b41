"""FOG_HOME's secret files, in clear or sealed under a passphrase (docs/FORMAT.md, section 12).

identity.json, master-key, master-key.old and syncconfig.json hold every
secret of the user. `protect` seals them under a passphrase; from then on the
home is *protected* (its identity.json is sealed), and every write here seals
with the key of identity.json's salt and limits: nothing is written in clear
again until `unprotect`. A file in clear in a protected home (one written by
hand) is still read; the next `protect` seals it.

The passphrase comes from the source a caller registers (`use_passphrase`;
the CLI's asks FOG_PASSPHRASE_COMMAND or the terminal), asked only when a
sealed file is met. The key derived from it is kept for the process: Argon2id
runs once, however many files a command reads and writes.

Readers and writers hold a shared flock on the FOG_HOME directory for the
moment they touch the files; protect and unprotect hold it exclusively while
they rewrite them all, so no fog process writes a file in clear after a
protect, or under the old key after a change. They rewrite through a journal
(`.reseal`): a crash leaves the home as it was or as it was to be, never a
mix of the two, and the next fog process finishes or undoes the rewrite.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fog.crypto import seal as S
from fog.errors import IdentityError, IntegrityError, PassphraseError
from fog.format import sealed as F

SECRET_FILES = ("identity.json", "master-key", "master-key.old", "syncconfig.json")
JOURNAL = ".reseal"  # {"state": "writing" | "ready", "files": [names]} while protect or unprotect runs
ADVICE = {
    "identity.json": "restore it from a backup, or move FOG_HOME aside and run "
    "`fog clone URL DIR --master-key-file F` to join this machine as a new device",
    "master-key": "restore it from a backup, or write the master key (as `fog init` showed it) into it",
    "master-key.old": "restore it from a backup, or delete it (it is kept for the record only)",
    "syncconfig.json": (
        "delete it: it is a cache of your fog settings (devices, shares) on the remote, "
        "fetched again by the next pull or push"
    ),
}

# Bytes a FOG_HOME file may hold (read_home_file): a few hundred in every file but the SyncConfig cache, which
# holds what the remote's SyncConfig does (fog.format.syncconfig.MAX_PLAINTEXT, 64 MiB), sealed or not
SMALL_FILE_MAX = 1 << 20
FILE_MAX = {"syncconfig.json": 160 << 20}

PassphraseSource = Callable[[Path], str]  # called with the FOG_HOME to unlock; returns its passphrase
_source: PassphraseSource | None = None
_keys: dict[tuple[bytes, int, int], bytes] = {}  # (salt, opslimit, memlimit) -> derived key


def use_passphrase(source: PassphraseSource | None) -> None:
    """Where passphrases come from from now on; keys derived so far are forgotten."""
    global _source
    _source = source
    _keys.clear()


def write_private(path: Path, data: bytes) -> None:
    """Atomically write a secret file with mode 0600.

    The temporary file gets a random name and is created exclusively, never through a symlink: in a
    directory other users can write (`--master-key-file /shared/mk`), a link planted at a guessable
    name would otherwise receive the secret into a file its planter owns."""
    import tempfile  # (here: the fast path loads this module, and rarely writes a secret)

    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}.", dir=path.parent)  # (O_EXCL, 0600)
    except OSError as exc:  # named by the file it was to write, not the temporary name nobody knows
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # (a full disk, a directory in the way: no half-written copy of a secret left behind)
        raise


# -- reading and writing ----------------------------------------------------------


def read_home_file(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a file of FOG_HOME: never through a symlink, from a regular file only, at most `limit` bytes
    (by default its FILE_MAX): a FIFO put there hung every command at its open, a link to /dev/zero filled the
    memory. FileNotFoundError when it is missing; another OSError naming the file and what to do otherwise."""
    limit = FILE_MAX.get(path.name, SMALL_FILE_MAX) if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):
            raise OSError(
                errno.ELOOP,
                "it is a symbolic link, which fog does not follow in FOG_HOME: put the file itself there",
                str(path),
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"it is not a regular file but {_kind(st.st_mode)}: move it away", str(path))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise OSError(errno.EFBIG, f"it holds over {limit} bytes, more than fog ever writes there", str(path))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


def read_files(home: Path, names: Iterable[str]) -> dict[str, bytes]:
    """The contents, opened, of those of `names` that exist in `home`, read together (no rewrite in between).

    FileNotFoundError is never raised for a missing file (it is left out);
    other OSErrors are; IdentityError (PassphraseError) for a sealed file
    that does not open.
    """
    raws: dict[str, bytes] = {}
    try:
        with _locked(home):
            for name in names:
                try:
                    raws[name] = read_home_file(home / name)
                except FileNotFoundError:
                    pass
    except FileNotFoundError:  # no home yet
        return {}
    return {name: _open(home, name, raw) for name, raw in raws.items()}


def open_file(path: Path, raw: bytes | None = None) -> bytes:
    """A file's contents (`raw`, if read already), opened with the passphrase if it is sealed (a master key
    file kept elsewhere)."""
    raw = path.read_bytes() if raw is None else raw
    return _open(path.parent, path.name, raw) if F.is_sealed(raw) else raw


def write_files(home: Path, files: dict[str, bytes]) -> None:
    """Write secret files of `home` (in order, each atomically, mode 0600): sealed if the home is protected."""
    with _locked(home), _home_writable(home):
        seal = _sealer(home)
        for name, data in files.items():
            write_private(home / name, seal(data))
        _sweep(home)  # what an earlier write killed midway left (a clear copy of a secret, in an unprotected home)


def write_together(home: Path, files: dict[str, bytes]) -> None:
    """Write secret files of `home` as one change (sealed if the home is protected): the journal of
    protect/unprotect, so a crash leaves every one of them old or every one new, never a mix."""
    with _locked(home, exclusive=True), _home_writable(home):
        seal = _sealer(home)
        _replace(home, {name: seal(data) for name, data in files.items()})


@contextmanager
def _home_writable(home: Path) -> Iterator[None]:
    """A write refused because FOG_HOME itself is not writable (one `sudo fog` run left it root's) says so,
    with the owner and the fix."""
    try:
        yield
    except PermissionError:
        if os.access(home, os.W_OK | os.X_OK, effective_ids=True):
            raise
        try:
            st = os.stat(home)
            import pwd

            try:
                owner = pwd.getpwuid(st.st_uid).pw_name
            except KeyError:
                owner = f"uid {st.st_uid}"
            whose = f" (owner {owner}, mode {st.st_mode & 0o7777:04o})"
        except OSError:
            whose = ""
        raise PermissionError(
            errno.EACCES, f"FOG_HOME ({home}) is not writable by you{whose}: fix its owner or permissions"
        ) from None


def is_protected(home: Path) -> bool:
    """Whether `home`'s identity.json is sealed (False when there is none)."""
    try:
        return F.is_sealed(read_home_file(home / "identity.json"))
    except FileNotFoundError:
        return False


# -- protecting and unprotecting ------------------------------------------------


def protect(home: Path, passphrase: str, *, opslimit: int = F.OPSLIMIT, memlimit: int = F.MEMLIMIT) -> list[str]:
    """Seal every secret file of `home` under a new passphrase (a protected home: a new passphrase).

    Opening files that are sealed already needs the current passphrase (from
    the source). Returns the names rewritten.
    """
    secret = _normalize(passphrase)
    params = (S.random_bytes(F.SALT_BYTES), opslimit, memlimit)
    _require_identity(home)
    with _locked(home, exclusive=True):
        plain = {name: _open(home, name, raw) for name, raw in _read_all(home).items()}
        key = _derive(home, secret, params)
        _replace(home, {name: _seal(key, params, data) for name, data in plain.items()})
    _keys.clear()
    _keys[params] = key
    return sorted(plain)


def unprotect(home: Path) -> list[str]:
    """Write the sealed files of `home` in clear again; returns their names (none: it was not protected)."""
    _require_identity(home)
    with _locked(home, exclusive=True):
        raws = _read_all(home)
        plain = {name: _open(home, name, raw) for name, raw in raws.items() if F.is_sealed(raw)}
        if plain:
            _replace(home, plain)
    _keys.clear()
    return sorted(plain)


def _read_all(home: Path) -> dict[str, bytes]:
    """The stored bytes of every secret file of `home` (which must hold an identity)."""
    raws: dict[str, bytes] = {}
    for name in SECRET_FILES:
        try:
            raws[name] = read_home_file(home / name)
        except FileNotFoundError:
            pass
    if "identity.json" not in raws:
        _require_identity(home)
    return raws


def _require_identity(home: Path) -> None:
    if not (home / "identity.json").is_file():
        raise IdentityError(f"no fog identity in {home}; run 'fog init' or 'fog clone' first")


# -- keys -----------------------------------------------------------------------------


def _normalize(passphrase: str) -> bytes:
    """The passphrase as Argon2id takes it: surrounding white space dropped, Unicode NFC, UTF-8."""
    text = unicodedata.normalize("NFC", passphrase.strip())
    if not text:
        raise PassphraseError("the passphrase is empty")
    return text.encode("utf-8")


def _derive(home: Path, secret: bytes, params: tuple[bytes, int, int]) -> bytes:
    salt, opslimit, memlimit = params
    try:
        return S.passphrase_key(secret, salt, opslimit, memlimit)
    except MemoryError:
        raise IdentityError(
            f"cannot derive the key of {home}: Argon2id needs {memlimit >> 20} MiB of memory, "
            "which this machine does not give"
        ) from None


def _key(home: Path, sealed: F.SealedFile) -> bytes:
    """The key of a sealed file's salt and limits: derived once per process, from the source's passphrase."""
    key = _keys.get(sealed.params)
    if key is None:
        if _source is None:
            raise PassphraseError(f"{home} is sealed under a passphrase (`fog key protect`), and none was given")
        key = _derive(home, _normalize(_source(home)), sealed.params)
        _keys[sealed.params] = key
    return key


def _parse(home: Path, name: str, raw: bytes) -> F.SealedFile:
    try:
        return F.SealedFile.from_bytes(raw)
    except ValueError as exc:
        raise IdentityError(f"{home / name} is damaged ({exc}); {_advice(name)}") from None


def _open(home: Path, name: str, raw: bytes) -> bytes:
    if not F.is_sealed(raw):
        return raw
    sealed = _parse(home, name, raw)
    key = _key(home, sealed)
    try:
        return S.open_secret(key, sealed.box, str(home / name))
    except IntegrityError:
        raise _failure(home, name, sealed, key) from None


def _failure(home: Path, name: str, sealed: F.SealedFile, key: bytes) -> IdentityError:
    """Why a sealed file did not open: damaged, if a file sealed alike opens with the key; else a wrong passphrase."""
    for other in SECRET_FILES:
        if other == name:
            continue
        try:
            twin = F.SealedFile.from_bytes(read_home_file(home / other))
            if twin.params == sealed.params:
                S.open_secret(key, twin.box, other)
                return IdentityError(
                    f"{home / name} is damaged (it does not open with the passphrase that opens {other}); "
                    f"{_advice(name)}"
                )
        except (OSError, ValueError, IntegrityError):
            continue
    _keys.pop(sealed.params, None)
    return PassphraseError(f"wrong passphrase for {home} ({name} does not open with it); nothing was changed")


def _advice(name: str) -> str:
    return ADVICE.get(name, "restore it from a backup")


def _seal(key: bytes, params: tuple[bytes, int, int], data: bytes) -> bytes:
    salt, opslimit, memlimit = params
    return F.SealedFile(opslimit, memlimit, salt, S.seal_secret(key, data)).to_bytes()


def _sealer(home: Path) -> Callable[[bytes], bytes]:
    """How a write to `home` stores its bytes: in clear, or sealed like identity.json (its key checked on it)."""
    try:
        raw = read_home_file(home / "identity.json")
    except FileNotFoundError:
        raw = b""
    if not F.is_sealed(raw):
        return lambda data: data
    sealed = _parse(home, "identity.json", raw)
    key = _key(home, sealed)
    try:
        S.open_secret(key, sealed.box, "identity.json")  # never seal under a key that is not the home's
    except IntegrityError:
        raise _failure(home, "identity.json", sealed, key) from None
    return lambda data: _seal(key, sealed.params, data)


# -- the lock and the journal -------------------------------------------------------


@contextmanager
def _locked(home: Path, *, exclusive: bool = False) -> Iterator[None]:
    """flock on the FOG_HOME directory; a rewrite left half done by a crash is settled first."""
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if os.path.lexists(home / JOURNAL):
            fcntl.flock(fd, fcntl.LOCK_EX)  # (not atomic: another process may settle it first)
            _settle(home)
            if not exclusive:
                fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _staged(home: Path, name: str) -> Path:
    return home / f".{name}.reseal"


def _replace(home: Path, files: dict[str, bytes]) -> None:
    """Replace several files at once: each new content is staged, then a journal says `ready`, then renames."""
    names = sorted(files)
    write_private(home / JOURNAL, json.dumps({"state": "writing", "files": names}).encode())
    _sync_dir(home)  # the journal is on disk before anything it names: a crash leaves nothing unnamed
    for name in names:
        fd = os.open(_staged(home, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, files[name])
            os.fsync(fd)
        finally:
            os.close(fd)
    write_private(home / JOURNAL, json.dumps({"state": "ready", "files": names}).encode())
    _sync_dir(home)
    _settle(home)
    _sweep(home)


def _settle(home: Path) -> None:
    """Finish a rewrite whose journal says `ready` (rename every staged file), or undo one that does not."""
    journal = home / JOURNAL
    try:
        doc = json.loads(read_home_file(journal, 64 << 10))
        ready = doc["state"] == "ready"
        names = [n for n in doc["files"] if n in SECRET_FILES]
    except FileNotFoundError:
        return  # settled by another process
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.EINVAL, errno.EFBIG):
            raise
        ready, names = False, list(SECRET_FILES)  # (a link, a FIFO, a huge file: never fog's journal) undone
    except (ValueError, KeyError, TypeError):  # never written half (write_private): undo, to be safe
        ready, names = False, list(SECRET_FILES)
    for name in names:
        try:
            if ready:
                os.replace(_staged(home, name), home / name)
            else:
                _staged(home, name).unlink()
        except FileNotFoundError:
            pass
    _sync_dir(home)
    journal.unlink(missing_ok=True)
    _sync_dir(home)


def _sweep(home: Path) -> None:
    """Remove what a write that crashed left of a secret file or the journal (write_private's temporary
    names, `.NAME.tmp-PID.RANDOM`, or `.NAME.tmp-PID` from an older fog): only those of a process that is
    gone (one alive may be about to rename its own)."""
    prefixes = tuple(f".{name}.tmp-" for name in (*SECRET_FILES, JOURNAL))
    try:
        entries = os.listdir(home)
    except OSError:
        return
    for entry in entries:
        if not entry.startswith(prefixes):
            continue
        pid = entry.rpartition(".tmp-")[2].partition(".")[0]
        if not pid.isdigit() or (int(pid) != os.getpid() and _alive(int(pid))):
            continue
        with contextlib.suppress(OSError):
            (home / entry).unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # (another user's process: not ours to judge)
    return True


def _sync_dir(home: Path) -> None:
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
