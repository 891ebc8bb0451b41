"""The mount's file system, without FUSE: names, entries and bytes of the share's history.

Layout of the root (or, with a moment, just the tree at it):

    current/            the share now: each path's newest version
    at/                 one directory per push, named by the time right after it
                        (local ISO time, as `fog log` shows it); any other name
                        that reads as a tree REV works too: at/2026-03-01/,
                        at/yesterday/, at/2h/, at/push:3fa9c1e2^/
    by-push/            one directory per push, named by its 12-digit id; ID^
                        names the state right before it
    versions/PATH/      every path ever recorded (deleted ones too) as a
                        directory of its versions: files (or symlinks) named
                        TIME_ID plus the path's extension

A tree is the one definition of fog.repo.trees (`tree_at`), read in one pass
and kept for the few moments looked at last; the versions index is one pass
over `history`. Both are rebuilt when the database changes (another fog
process pushed or pulled), so current/ follows the share. Inodes are a hash
of the path in the mount: stable across mounts and lookups.
"""

from __future__ import annotations

import hashlib
import os
import stat as st
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from fog.errors import FogError, MissingObject
from fog.format.version import Version, in_fog_dir
from fog.repo import trees
from fog.repo.db import RepoDB
from fog.repo.trees import Moment
from fog.sync.blockread import BlockReader

VIEWS = ("current", "at", "by-push", "versions")
TREES_KEPT = 8
MOMENT_TTL = 10.0  # seconds a name under at/ keeps what it resolved to ("2h" moves with the clock)


class NotFound(FogError):
    """No such name in the mount (ENOENT)."""


class NotADir(FogError):
    """A path goes through something that is not a directory (ENOTDIR)."""


@dataclass(frozen=True)
class Entry:
    """What a name in the mount is: a directory, a file or a symlink, and its stat."""

    kind: str  # "dir", "file" or "link"
    mode: int  # permission bits
    size: int = 0
    mtime_ns: int = 0
    version: Version | None = None  # the version behind a file or link (and a recorded directory)

    def st_mode(self) -> int:
        fmt = st.S_IFDIR if self.kind == "dir" else st.S_IFLNK if self.kind == "link" else st.S_IFREG
        return fmt | (self.mode & 0o7777)


@dataclass
class Tree:
    """A tree at a moment, indexed by directory."""

    when_ns: int | None
    paths: dict[str, Version]
    children: dict[str, list[str]] = field(default_factory=dict)
    newest_ns: int = 0

    @classmethod
    def build(cls, when_ns: int | None, paths: dict[str, Version]) -> Tree:
        kept = {p: v for p, v in paths.items() if not in_fog_dir(p)}
        kids: dict[str, set[str]] = {"": set()}
        for p in kept:
            parts = p.split("/")
            for depth in range(len(parts)):
                kids.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
        newest = max((v.time_ns for v in kept.values()), default=0)
        return cls(when_ns, kept, {d: sorted(n) for d, n in kids.items()}, newest)


@dataclass
class VersionsIndex:
    """Every path in history: its content versions (newest first), and each directory's children."""

    versions: dict[str, list[Version]]
    names: dict[str, dict[str, Version]]  # path -> version file name -> version
    children: dict[str, list[str]]


def version_name(v: Version) -> str:
    """A version's file name under versions/PATH/: its time, its id, then the path's extension."""
    ext = os.path.splitext(v.path.rsplit("/", 1)[-1])[1]
    if len(ext) > 12 or " " in ext:
        ext = ""
    return f"{trees.iso(v.time_ns)}_{v.id.hex()[:12]}{ext}"


def inode(path: str) -> int:
    """A stable inode number for a path in the mount (1 is the root)."""
    if not path:
        return 1
    n = int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "big")
    return (n >> 1) | 2  # below 2**63, never 0 or 1


class HistoryFS:
    """The mount's names, entries and bytes over a share's database and one store (thread-safe)."""

    def __init__(
        self,
        db: RepoDB,
        reader: BlockReader,
        names: dict[str, str],
        at: Moment | None = None,
        clock: Callable[[], float] = time.monotonic,
        explain: Callable[[Version], FogError | None] | None = None,
    ) -> None:
        self.db = db
        self.reader = reader
        # why a version's object is missing when another device forgot it (and pruned its data): not damage
        self.explain = explain
        self._explained: dict[bytes, FogError | None] = {}
        self.names = names
        self.at = at  # a moment at the root instead of the views
        self.clock = clock
        self._lock = threading.RLock()
        self._gen: object = None
        self._trees: OrderedDict[int | None, Tree] = OrderedDict()
        self._moments: dict[str, tuple[Moment | None, float]] = {}
        self._pushes: list[trees.Push] | None = None
        self._versions: VersionsIndex | None = None
        self.started_ns = time.time_ns()

    # -- caches -----------------------------------------------------------------------------

    def _fresh(self) -> None:
        """Drop what was built from an older database state (another process committed since)."""
        gen = self.db.refresh()  # (reopened after a repack replaced the file: its txn ids start again)
        if gen != self._gen:
            self._gen = gen
            self._trees.clear()
            self._moments.clear()
            self._pushes = None
            self._versions = None

    def tree(self, when_ns: int | None) -> Tree:
        with self._lock:
            self._fresh()
            t = self._trees.get(when_ns)
            if t is None:
                t = Tree.build(when_ns, trees.tree_at(self.db, "", when_ns))
                self._trees[when_ns] = t
                while len(self._trees) > TREES_KEPT:
                    self._trees.popitem(last=False)
            self._trees.move_to_end(when_ns)
            return t

    def pushes(self) -> list[trees.Push]:
        """Every push, newest first."""
        with self._lock:
            self._fresh()
            if self._pushes is None:
                self._pushes = trees.pushes(self.db)
            return self._pushes

    def moment(self, name: str) -> Moment | None:
        """What a name under at/ means (a tree REV), or None."""
        if not name or name.startswith("."):
            return None
        with self._lock:
            self._fresh()
            hit = self._moments.get(name)
            if hit is not None and hit[1] > self.clock():
                return hit[0]
            m = self._listed_push(name)
            if m is None:
                try:
                    m = trees.resolve_moment(self.db, "", name, self.names)
                except FogError:
                    m = None
            self._moments[name] = (m, self.clock() + MOMENT_TTL)
            return m

    def _listed_push(self, name: str) -> Moment | None:
        """push:ID or push:ID^ for an ID as by-push/ lists it, from the pushes already read (no pass over them)."""
        key = name.removeprefix("push:").removesuffix("^")
        if not name.startswith("push:") or len(key) != 12:
            return None
        for p in self.pushes():
            if p.id is not None and p.name == key:
                who = self.names.get(p.device, p.device[:8])
                if name.endswith("^"):
                    return Moment(p.before_ns, f"right before push {p.name} by {who} ({trees.iso(p.before_ns + 1)})", p)
                return Moment(p.after_ns, f"push {p.name} by {who} ({trees.iso(p.after_ns)})", p)
        return None

    def versions_index(self) -> VersionsIndex:
        with self._lock:
            self._fresh()
            if self._versions is None:
                self._versions = self._build_versions()
            return self._versions

    def _build_versions(self) -> VersionsIndex:
        versions: dict[str, list[Version]] = {}
        kids: dict[str, set[str]] = {"": set()}
        with self.db.read() as txn:
            for path, history, _head in self.db.histories(txn):
                if in_fog_dir(path):
                    continue
                parts = path.split("/")
                for depth in range(len(parts)):
                    kids.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
                kids.setdefault(path, set())
                content = [v for v in history if not v.deleted and v.kind in ("file", "link")]
                versions[path] = sorted(content, key=lambda v: (v.time_ns, v.id), reverse=True)
        names = {p: {version_name(v): v for v in vs} for p, vs in versions.items()}
        children = {d: sorted(n) + sorted(names.get(d, {})) for d, n in kids.items()}
        return VersionsIndex(versions, names, children)

    # -- names --------------------------------------------------------------------------------

    def _dir(self, mtime_ns: int, v: Version | None = None) -> Entry:
        if v is not None and v.kind == "dir":
            return Entry("dir", v.mode, 0, v.mtime_ns or v.time_ns, v)
        return Entry("dir", 0o755, 0, mtime_ns)

    def _resolve(self, path: str, names: bool = True) -> tuple[Entry, list[str] | None]:
        """A mount path's entry and, for a directory, its names (only when `names`: a moment's tree
        is built when something inside it is asked for, not when `ls -l at/` stats each moment)."""
        parts = [p for p in path.split("/") if p]
        if self.at is not None:
            return self._in_tree(self.tree(self.at.when_ns), parts, self.at.when_ns)
        if not parts:
            return self._dir(self.started_ns), list(VIEWS)
        view, rest = parts[0], parts[1:]
        if view == "current":
            return self._in_tree(self.tree(None), rest, None)
        if view in ("at", "by-push"):
            if not rest:
                return self._dir(self.started_ns), self._moment_names(view)
            m = self.moment(rest[0] if view == "at" else f"push:{rest[0]}")
            if m is None:
                raise NotFound(path)
            if len(rest) == 1 and not names:
                return self._dir(m.when_ns if m.when_ns is not None else self.started_ns), None
            return self._in_tree(self.tree(m.when_ns), rest[1:], m.when_ns)
        if view == "versions":
            return self._in_versions(rest, path)
        raise NotFound(path)

    def _moment_names(self, view: str) -> list[str]:
        seen: dict[str, None] = {}
        for p in reversed(self.pushes()):  # oldest first
            if view == "at":
                seen[trees.iso(p.after_ns)] = None
            elif p.id is not None:
                seen[p.name] = None
        return list(seen)

    def _in_tree(self, tree: Tree, parts: list[str], when_ns: int | None) -> tuple[Entry, list[str] | None]:
        rel = "/".join(parts)
        at_ns = when_ns if when_ns is not None else tree.newest_ns
        if not rel:
            return self._dir(at_ns), tree.children.get("", [])
        v = tree.paths.get(rel)
        if v is None:
            if rel in tree.children:
                return self._dir(at_ns), tree.children[rel]
            self._check_parents(tree.paths, parts)
            raise NotFound(rel)
        if v.kind == "dir":
            return self._dir(at_ns, v), tree.children.get(rel, [])
        return Entry(v.kind, 0o777 if v.kind == "link" else v.mode, _size(v), v.mtime_ns, v), None

    def _check_parents(self, paths: dict[str, Version], parts: list[str]) -> None:
        for depth in range(1, len(parts)):
            v = paths.get("/".join(parts[:depth]))
            if v is not None and v.kind != "dir":
                raise NotADir("/".join(parts))

    def _in_versions(self, parts: list[str], path: str) -> tuple[Entry, list[str] | None]:
        index = self.versions_index()
        rel = "/".join(parts)
        if rel in index.children:
            own = index.versions.get(rel) or []
            return self._dir(own[0].time_ns if own else self.started_ns), index.children[rel]
        parent = "/".join(parts[:-1])
        v = index.names.get(parent, {}).get(parts[-1]) if parts else None
        if v is None:
            raise NotFound(path)
        return Entry(v.kind, 0o777 if v.kind == "link" else v.mode, _size(v), v.mtime_ns, v), None

    # -- what FUSE asks -------------------------------------------------------------------------

    def lookup(self, path: str) -> Entry:
        return self._resolve(path, names=False)[0]

    def listdir(self, path: str) -> list[str]:
        entry, names = self._resolve(path)
        if entry.kind != "dir" or names is None:
            raise NotADir(path)
        return names

    def listdir_typed(self, path: str) -> list[tuple[str, int]]:
        """A directory's names, each with its file type bits (S_IFDIR, S_IFREG, S_IFLNK), without a lookup each."""
        parts = [p for p in path.split("/") if p]
        names = self.listdir(path)
        if self.at is None and len(parts) < 2 and (not parts or parts[0] in ("at", "by-push")):
            return [(n, st.S_IFDIR) for n in names]
        if self.at is None and parts[0] == "versions":
            index = self.versions_index()
            rel = "/".join(parts[1:])
            own = index.names.get(rel, {})
            return [(n, _fmt(own[n].kind) if n in own else st.S_IFDIR) for n in names]
        tree = self._tree_of(parts)
        rel = "/".join(parts if self.at is not None else parts[1 if parts[0] == "current" else 2 :])
        out = []
        for n in names:
            v = tree.paths.get(f"{rel}/{n}" if rel else n)
            out.append((n, _fmt(v.kind) if v is not None else st.S_IFDIR))
        return out

    def _tree_of(self, parts: list[str]) -> Tree:
        if self.at is not None:
            return self.tree(self.at.when_ns)
        if parts[0] == "current":
            return self.tree(None)
        m = self.moment(parts[1] if parts[0] == "at" else f"push:{parts[1]}")
        if m is None:
            raise NotFound("/".join(parts))
        return self.tree(m.when_ns)

    def frozen(self, path: str) -> bool:
        """Whether a file name always means one version: under versions/ (its id is in the name). A name in a
        tree can mean another version after a push or pull: current/ follows them, and a pull brings versions
        recorded before a moment already shown."""
        parts = [p for p in path.split("/") if p]
        return self.at is None and bool(parts) and parts[0] == "versions"

    def readlink(self, path: str) -> str:
        entry = self.lookup(path)
        if entry.kind != "link" or entry.version is None:
            raise FogError(f"{path} is not a symlink")
        return entry.version.target or ""

    def read(self, entry: Entry, offset: int, size: int) -> bytes:
        """Bytes of a file entry (from lookup), verified block by block."""
        if entry.kind != "file" or entry.version is None:
            return b""
        try:
            return self.reader.read(entry.version, offset, size)
        except MissingObject as exc:
            v = entry.version
            if self.explain is None:
                raise
            with self._lock:
                if v.id not in self._explained:  # (the remote's batches are read once per version)
                    self._explained[v.id] = self.explain(v)
                why = self._explained[v.id]
            if why is None:
                raise
            raise why from exc


def _fmt(kind: str) -> int:
    return st.S_IFDIR if kind == "dir" else st.S_IFLNK if kind == "link" else st.S_IFREG


def _size(v: Version) -> int:
    if v.kind == "link":
        return len(os.fsencode(v.target or ""))
    return v.size
