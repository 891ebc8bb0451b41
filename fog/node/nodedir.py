"""A node's directory: its key, and one space per user (docs/FORMAT.md, section 17).

DIR/node.json                       {"format": 1, "public", "secret"} (mode 0600)
DIR/spaces/<space>/roster.json      the space's pinned user key and merged device list
DIR/spaces/<space>/store/           a plain fog remote (LocalBackend layout)
DIR/spaces/<space>/usage            {"bytes", "objects"}: the space's charged usage, changed under flock
DIR/spaces/<space>/roster.lock      flock taken while the space's roster is merged (several
                                    `fog serve --stdio` processes may share DIR)
DIR/spaces.lock                     flock taken while the spaces are counted and one made (--max-spaces)
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fog.crypto import seal as S
from fog.errors import RemoteError
from fog.format.noderoster import SpaceRoster

_SPACE = re.compile(r"[0-9a-f]{32}")


def is_space(name: object) -> bool:
    return isinstance(name, str) and bool(_SPACE.fullmatch(name))


class NodeDir:
    """The files of one node, safe to share between processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def load_or_create_key(self) -> tuple[bytes, bytes, bool]:
        """(secret, public, created): the node key, made at the first run (0600, create-only)."""
        path = self.root / "node.json"
        created = False
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            secret, public = S.new_keypair()
            doc = {"format": 1, "public": public.hex(), "secret": secret.hex()}
            tmp = self.root / f".node.json.{os.getpid()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # create-only: two first runs at once keep one key
                created = True
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        try:
            doc = json.loads(path.read_text())
            secret, public = bytes.fromhex(doc["secret"]), bytes.fromhex(doc["public"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RemoteError(f"{path}: not a node key file ({exc})") from exc
        if doc.get("format") != 1 or len(secret) != 32 or S.public_of(secret) != public:
            raise RemoteError(f"{path}: not a node key file (format or keys do not match)")
        return secret, public, created

    def private(self) -> None:
        """Make the node's directory and `spaces/` owner-only (0700), whatever the umask made them."""
        for d in (self.root, self.root / "spaces"):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            if d.stat().st_mode & 0o077:
                os.chmod(d, 0o700)

    def space_dir(self, space: str) -> Path:
        if not is_space(space):
            raise ValueError(f"invalid space {space!r}")
        return self.root / "spaces" / space

    def spaces(self) -> list[str]:
        try:
            return sorted(p.name for p in (self.root / "spaces").iterdir() if is_space(p.name))
        except FileNotFoundError:
            return []

    def load_roster(self, space: str) -> SpaceRoster | None:
        try:
            raw = (self.space_dir(space) / "roster.json").read_bytes()
        except FileNotFoundError:
            return None
        try:
            return SpaceRoster.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            raise RemoteError(f"node space {space}: roster.json is damaged ({exc})") from exc

    def roster_stamp(self, space: str) -> tuple[int, int, int] | None:
        """What tells a change of the space's roster.json (by any process): inode, mtime, size; None if absent."""
        try:
            st = (self.space_dir(space) / "roster.json").stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def save_roster(self, state: SpaceRoster) -> None:
        d = self.space_dir(state.space)
        (d / "store").mkdir(parents=True, exist_ok=True)
        tmp = d / f".roster.json.{os.getpid()}"
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(state.to_json(), f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, d / "roster.json")

    @contextmanager
    def locked(self, space: str) -> Iterator[None]:
        """Hold one space's roster lock (between processes; callers also hold that space's thread lock)."""
        d = self.space_dir(space)
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(d / "roster.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def creating(self) -> Iterator[None]:
        """Hold the node's lock for making a space (between processes: spaces are counted, then one made)."""
        fd = os.open(self.root / "spaces.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class RosterIndex:
    """Which space is pinned to which user key and which spaces list which key, in memory: a hello that
    names no space is resolved without parsing every roster.json. Refreshed from the files (only those
    whose stamp changed are read) at most once per `interval`, and at once by this process's merges."""

    def __init__(self, nodedir: NodeDir, interval: float = 1.0) -> None:
        self.dir, self.interval = nodedir, interval
        self._lock = threading.Lock()
        self._stamps: dict[str, tuple[int, int, int] | None] = {}
        self._pinned: dict[str, str] = {}  # space -> pinned key
        self._keys: dict[str, frozenset[str]] = {}  # space -> device and join keys
        self._by_pinned: dict[str, str] = {}
        self._by_key: dict[str, set[str]] = {}
        self._checked = -1e9

    def _set(self, space: str, state: SpaceRoster | None, stamp: tuple[int, int, int] | None) -> None:
        old = self._pinned.pop(space, None)
        if old is not None and self._by_pinned.get(old) == space:
            del self._by_pinned[old]
        for key in self._keys.pop(space, frozenset()):
            self._by_key.get(key, set()).discard(space)
            if not self._by_key.get(key, True):
                del self._by_key[key]
        self._stamps[space] = stamp
        if state is None:
            return
        self._pinned[space] = state.pinned
        self._by_pinned[state.pinned] = space
        keys = frozenset(state.devices) | frozenset(state.join)
        self._keys[space] = keys
        for key in keys:
            self._by_key.setdefault(key, set()).add(space)

    def refresh(self, *, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < self.interval:
                return
            self._checked = now
            names = set(self.dir.spaces())
            for gone in set(self._stamps) - names:
                self._set(gone, None, None)
                del self._stamps[gone]
            for name in names:
                stamp = self.dir.roster_stamp(name)
                if name in self._stamps and stamp == self._stamps[name]:
                    continue
                try:
                    state = self.dir.load_roster(name)
                except RemoteError:
                    state = None  # damaged: listed nowhere (its clients name it and are refused)
                self._set(name, state, stamp)

    def saved(self, state: SpaceRoster) -> None:
        """This process merged and saved `state`."""
        with self._lock:
            self._set(state.space, state, self.dir.roster_stamp(state.space))

    def pinned_to(self, signer: str) -> str | None:
        with self._lock:
            return self._by_pinned.get(signer)

    def listing(self, key: str) -> list[str]:
        with self._lock:
            return sorted(self._by_key.get(key, ()))


MIN_CHARGE = 4096  # what an object costs against a quota at least (an inode, a block, its directories)


def charge(size: int) -> int:
    """What an object of `size` bytes costs against a space's quota."""
    return max(size, MIN_CHARGE)


def usage(store: Path) -> tuple[int, int]:
    """(charged bytes, objects) under a space's store directory (unfinished temporary files included).

    Iterative (no recursion however deep the tree) and without following symbolic links."""
    total = objects = 0
    stack = [os.fspath(store)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += charge(entry.stat(follow_symlinks=False).st_size)
                    objects += 1
            except OSError:
                pass
    return total, objects


class OverLimit(Exception):
    """A change that would take a space past its quota or its object cap (the usage as it stands)."""

    def __init__(self, what: str, used: int, objects: int) -> None:
        super().__init__(what)
        self.what, self.used, self.objects = what, used, objects


class Usage:
    """A space's usage, `spaces/<s>/usage` (JSON {"bytes", "objects"}), changed under an flock so that
    every process serving the directory (each `fog serve --stdio`) shares one count and one quota."""

    def __init__(self, path: Path, store: Path) -> None:
        self.path, self.store = path, store
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[int]:
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield fd
            finally:
                os.close(fd)

    def _read(self, fd: int) -> tuple[int, int]:
        raw = os.pread(fd, 4096, 0)
        try:
            doc = json.loads(raw)
            used, objects = int(doc["bytes"]), int(doc["objects"])
        except (ValueError, KeyError, TypeError):
            used, objects = usage(self.store)  # absent or damaged: count the store
            self._write(fd, used, objects)
        return used, objects

    @staticmethod
    def _write(fd: int, used: int, objects: int) -> None:
        raw = json.dumps({"bytes": used, "objects": objects}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, raw, 0)

    def get(self) -> tuple[int, int]:
        """(charged bytes, objects) now."""
        with self._locked() as fd:
            return self._read(fd)

    def change(self, grow: int, objects: int, quota: int | None, max_objects: int | None) -> None:
        """Add `grow` bytes and `objects` objects; OverLimit when a growth would pass `quota` or `max_objects`."""
        with self._locked() as fd:
            used, count = self._read(fd)
            if grow > 0 and quota is not None and used + grow > quota:
                raise OverLimit("quota", used, count)
            if objects > 0 and max_objects is not None and count + objects > max_objects:
                raise OverLimit("objects", used, count)
            self._write(fd, max(0, used + grow), max(0, count + objects))
