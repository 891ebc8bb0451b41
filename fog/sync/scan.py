"""Walk the working tree and compare it with the stat index.

The scan costs one lstat per entry (from os.scandir) and one index lookup; a
file whose stat matches its index entry is never opened. Entries that changed
are returned for the caller to read and hash.
"""

from __future__ import annotations

import array
import os
import re
import stat as st
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, overload

from fog.frozen import quick_init
from fog.repo.db import NS_MAX, NS_MIN, StatEntry, clamp_ns, stat_mode
from fog.repo.share import FOG_DIR
from fog.sync.ignore import IGNORE_FILE, Ignore

SPECIAL_FILE = "not a regular file, directory or symlink"  # FIFOs, sockets, devices: left out
TMP_PREFIX = ".fog-tmp-"  # temp names of fog.sync.content.write_version
# fog's own temp names exactly (pid, random token, counter): skipped and reported. Any other name with
# the prefix is a user's file and synced like any other.
TMP_NAME = re.compile(r"\.fog-tmp-\d+-[0-9a-f]{8}-\d{8}")
LEFT_TMP = "temporary file of an interrupted fog pull or restore: not synced (delete it)"
NESTED_SHARE = "nested fog share: not synced"  # a directory below the root holding a `.fog/`
FOG_HOME_HERE = "this device's FOG_HOME (its keys): never synced"  # Share.fenced: skipped whole, as a nested share
_NESTED = os.sep + FOG_DIR
_IFMT, _IFREG, _IFDIR, _IFLNK = 0o170000, st.S_IFREG, st.S_IFDIR, st.S_IFLNK


class Stat:
    """The five stat fields fog compares, under os.stat_result's names.

    An os.stat_result holds ~20 Python objects (~600 bytes); a scan keeps its
    candidates by column (Candidates) and builds one of these per entry used.
    """

    __slots__ = ("st_size", "st_mtime_ns", "st_ino", "st_ctime_ns", "st_mode")

    def __init__(self, size: int, mtime_ns: int, ino: int, ctime_ns: int, mode: int) -> None:
        self.st_size = size
        self.st_mtime_ns = mtime_ns
        self.st_ino = ino
        self.st_ctime_ns = ctime_ns
        self.st_mode = mode

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stat) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


@quick_init
@dataclass(frozen=True, slots=True)
class Entry:
    """One working-tree entry: path relative to the share root, '/'-separated."""

    path: str
    kind: str  # file | dir | link
    st: Stat
    target: str | None = None


_KINDS = ("file", "dir", "link")
_KIND_CODE = {k: i for i, k in enumerate(_KINDS)}


class Candidates:
    """The entries a scan found changed, stored by column: a sequence of Entry built on access.

    An Entry with its Stat holds ~10 Python objects (~370 bytes with the
    path); a scan of 100,000 new files kept 37 MB of them through a whole
    push. Here an entry is its path, a kind byte and five integers in arrays
    (~130 bytes), and an Entry exists only while a chunk of the push uses it.
    """

    def __init__(self) -> None:
        self._paths: list[str] = []
        self._kinds = bytearray()
        self._nums = array.array("q")  # size, mtime_ns, ctime_ns, mode per entry
        self._inos = array.array("Q")
        self._targets: dict[int, str] = {}  # index -> symlink target

    def add(self, path: str, kind: str, s: os.stat_result, target: str | None = None) -> None:
        if target is not None:
            self._targets[len(self._paths)] = target
        self._paths.append(path)
        self._kinds.append(_KIND_CODE[kind])
        mtime, ctime = s.st_mtime_ns, s.st_ctime_ns
        if not (NS_MIN <= mtime <= NS_MAX and NS_MIN <= ctime <= NS_MAX):  # (two clamp_ns calls: 0.1 s a 100k scan)
            mtime, ctime = clamp_ns(mtime), clamp_ns(ctime)
        self._nums.extend((s.st_size, mtime, ctime, s.st_mode))
        self._inos.append(s.st_ino)

    def sort(self) -> None:
        """Order by path."""
        order = sorted(range(len(self._paths)), key=self._paths.__getitem__)
        nums = self._nums
        self._paths = [self._paths[i] for i in order]
        self._kinds = bytearray(self._kinds[i] for i in order)
        raw, row = nums.tobytes(), 4 * nums.itemsize  # rows moved as bytes, not 4 ints each
        self._nums = array.array("q")
        self._nums.frombytes(b"".join([raw[row * i : row * i + row] for i in order]))
        self._inos = array.array("Q", (self._inos[i] for i in order))
        self._targets = {j: self._targets[i] for j, i in enumerate(order) if i in self._targets}

    def __len__(self) -> int:
        return len(self._paths)

    def without(
        self, paths: set[str], unless: Callable[[str, int], bool] | None = None
    ) -> tuple[Candidates, list[str]]:
        """These candidates but those at `paths` (save a regular file for which `unless(path, inode)`), and
        the paths left out."""
        kept, out = Candidates(), []
        for i, path in enumerate(self._paths):
            if path in paths and not (
                unless is not None and self._kinds[i] == _KIND_CODE["file"] and unless(path, self._inos[i])
            ):
                out.append(path)
                continue
            if i in self._targets:
                kept._targets[len(kept._paths)] = self._targets[i]
            kept._paths.append(path)
            kept._kinds.append(self._kinds[i])
            kept._nums.extend(self._nums[4 * i : 4 * i + 4])
            kept._inos.append(self._inos[i])
        return kept, out

    def file_bytes(self, start: int = 0, stop: int | None = None) -> int:
        """The total size of the regular files among entries start:stop."""
        kinds, nums, file = self._kinds, self._nums, _KIND_CODE["file"]
        return sum(nums[4 * i] for i in range(*slice(start, stop).indices(len(kinds))) if kinds[i] == file)

    def small_files(self, limit: int) -> Iterator[tuple[str, int, int, int]]:
        """(path, size, mtime_ns, inode) of each regular file of at most `limit` bytes, in order."""
        kinds, nums, inos, file = self._kinds, self._nums, self._inos, _KIND_CODE["file"]
        for i, path in enumerate(self._paths):
            if kinds[i] == file and nums[4 * i] <= limit:
                yield path, nums[4 * i], nums[4 * i + 1], inos[i]

    def moved_from(self, entries: list[StatEntry]) -> int:
        """How many of these stat entries (files gone from their paths) are here under another path: the
        same inode with the same size and mtime (a rename keeps all three; a new file reusing a freed
        inode does not)."""
        here = {
            (self._inos[i], self._nums[4 * i], self._nums[4 * i + 1])
            for i in range(len(self._kinds))
            if self._kinds[i] == _KIND_CODE["file"]
        }
        return sum(1 for e in entries if (e.ino, e.size, e.mtime_ns) in here)

    def count_small(self, limit: int) -> int:
        """How many regular files of at most `limit` bytes there are."""
        kinds, nums, file = self._kinds, self._nums, _KIND_CODE["file"]
        return sum(1 for i in range(len(kinds)) if kinds[i] == file and nums[4 * i] <= limit)

    def _entry(self, i: int) -> Entry:
        size, mtime, ctime, mode = self._nums[4 * i : 4 * i + 4]
        stat = Stat(size, mtime, self._inos[i], ctime, mode)
        return Entry(self._paths[i], _KINDS[self._kinds[i]], stat, self._targets.get(i))

    @overload
    def __getitem__(self, i: int) -> Entry: ...

    @overload
    def __getitem__(self, i: slice) -> list[Entry]: ...

    def __getitem__(self, i: int | slice) -> Entry | list[Entry]:
        if isinstance(i, slice):
            return [self._entry(j) for j in range(*i.indices(len(self._paths)))]
        if not -len(self._paths) <= i < len(self._paths):
            raise IndexError(i)
        return self._entry(i % len(self._paths))

    def __iter__(self) -> Iterator[Entry]:
        return (self._entry(i) for i in range(len(self._paths)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Candidates):
            return list(self) == list(other)
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Candidates({list(self)!r})"


class StatIndex(Protocol):
    """What the scan needs of the stat index (fog.repo.db.StatView)."""

    def raw(self, path: str) -> bytes | None: ...

    def matches(self, path: str, s: os.stat_result, is_dir: bool) -> bool: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[str]: ...


@dataclass
class Diff:
    """How the tree differs from the stat index, before any file is read."""

    candidates: Candidates = field(default_factory=Candidates)  # new or stat-changed: read them
    gone: list[str] = field(default_factory=list)  # indexed, no longer present
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # unreadable dirs, special files
    unreadable: list[str] = field(default_factory=list)  # of those, the paths fog failed to read (not left out by rule)
    flagged: list[str] = field(default_factory=list)  # paths the caller's `flag` picked
    ignored: list[str] = field(default_factory=list)  # left out by an ignore rule (a directory: `DIR/`, not entered)
    # indexed, gone while an ignore rule picks them: their deletion stays here (the push drops their stat
    # entries, so that lifting the rule later does not publish it)
    ignored_gone: list[str] = field(default_factory=list)


def scan(
    root: Path,
    index: StatIndex,
    flag: Callable[[str], bool] | None = None,
    ignore: Ignore | None = None,
    fenced: str | None = None,
) -> Diff:
    """Walk every file, directory and symlink below root, comparing as it goes.

    Never synced: any entry named `.fog`, and a directory holding a `.fog/`
    (another share nested in this one) or at `fenced` (this device's FOG_HOME,
    Share.fenced), which is skipped whole and reported.
    Paths the ignore rules (fog.sync.ignore; by default the tree's own) pick
    are listed in `ignored`, never compared, and never gone: an ignored
    directory is not entered.

    One lstat per entry (from os.scandir) and one index lookup compared as
    bytes; an entry that matches is counted and dropped, so a scan of 100,000
    unchanged files builds no object per file. Only candidates are kept.
    """
    out = Diff()
    seen: set[str] = set()
    unseen: list[str] = []  # subtrees not walked: their history is kept
    left_out: set[str] = set()  # ignored paths (directories not walked): their history is kept too
    stack = [""]
    top = str(root)
    rules = Ignore(top) if ignore is None else ignore
    matches, same, seen_add = rules.matches, index.matches, seen.add  # (bound once: 100,000 entries a scan)
    unchanged = 0
    while stack:
        rel = stack.pop()
        try:
            it = os.scandir(os.path.join(top, rel) if rel else top)
        except FileNotFoundError:
            continue  # vanished during the scan: its absence is what we saw
        except OSError as exc:
            unseen.append(rel)
            out.skipped.append(f"{rel or '.'}: {exc.strerror}")
            out.unreadable.append(rel or ".")
            continue
        with it:
            listed = list(it)  # one directory's entries: whether it holds a .fogignore decides its rules
        chain = rules.chain(rel, present=any(de.name == IGNORE_FILE for de in listed))
        prefix = rel + "/" if rel else ""
        for de in listed:
            name = de.name
            if name == FOG_DIR:
                continue  # a repository (ours or not)
            path = prefix + name
            if name.startswith(TMP_PREFIX) and TMP_NAME.fullmatch(name):
                out.skipped.append(f"{path}: {LEFT_TMP}")  # left in the tree when .fog/tmp was on another fs
                continue
            try:
                s = de.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:  # (a path too long here, say): its history is kept, never marked deleted
                unseen.append(path)
                out.skipped.append(f"{path}: {exc.strerror}")
                out.unreadable.append(path)
                continue
            fmt = s.st_mode & _IFMT
            # (a .fogignore file is never ignored: a rule like `.*` would keep the rules from every device)
            if chain and matches(path, fmt == _IFDIR, chain) and not (name == IGNORE_FILE and fmt == _IFREG):
                left_out.add(path)
                out.ignored.append(path + "/" if fmt == _IFDIR else path)
                continue
            if fmt == _IFREG:
                kind = "file"
            elif fmt == _IFDIR:
                if is_nested_share(de.path):  # one stat per directory, none per file
                    unseen.append(path)  # its history is kept, never marked deleted
                    out.skipped.append(f"{path}: {NESTED_SHARE}")
                    continue
                if path == fenced:  # (never read: its files are this device's secret keys)
                    unseen.append(path)
                    out.skipped.append(f"{path}: {FOG_HOME_HERE}")
                    continue
                kind = "dir"
                stack.append(path)
            elif fmt == _IFLNK:
                kind = "link"
            else:
                out.skipped.append(f"{path}: {SPECIAL_FILE}")
                continue
            seen_add(path)
            if flag is not None and flag(path):
                out.flagged.append(path)
            if same(path, s, kind == "dir"):
                unchanged += 1
                continue
            target = None
            if kind == "link":
                try:
                    target = os.readlink(de.path)
                except FileNotFoundError:
                    seen.discard(path)  # gone since its lstat: its absence is what we saw
                    continue
                except OSError as exc:
                    unseen.append(path)
                    out.skipped.append(f"{path}: {exc.strerror}")
                    out.unreadable.append(path)
                    continue
            out.candidates.add(path, kind, s, target)
    out.unchanged = unchanged
    out.skipped += rules.notices  # .fogignore files and lines left out of the rules (each said once)
    if len(index) != out.unchanged:  # something indexed was not matched: find what is gone
        for path in index:
            if path in seen or under_any(path, unseen):
                continue
            if path in left_out or any(p in left_out for p in iter_parents(path)):
                continue  # (there, in or under something ignored: not looked at)
            if _ignored(path, left_out, rules, index):
                out.ignored_gone.append(path)
            else:
                out.gone.append(path)
    out.candidates.sort()
    out.gone.sort()
    out.ignored_gone.sort()
    out.flagged.sort()
    out.ignored.sort()
    return out


def is_nested_share(full: str) -> bool:
    """Whether the directory at `full` (below a share's root) holds a `.fog/`: another share, nested in
    this one. The one test of it: push skips such a directory whole, pull writes nothing into it."""
    return os.path.isdir(full + _NESTED)


def _ignored(path: str, left_out: set[str], rules: Ignore, index: StatIndex) -> bool:
    """An indexed path not seen: ignored (met as such, below an ignored directory, or, deleted here,
    picked by the rules) rather than gone. Its deletion is not pushed, as nothing about it is."""
    if path in left_out or any(p in left_out for p in iter_parents(path)):
        return True
    raw = index.raw(path)
    is_dir = raw is not None and st.S_ISDIR(stat_mode(raw))
    return rules.ignored(path, is_dir) and not (not is_dir and path.rpartition("/")[2] == IGNORE_FILE)


def under_any(path: str, prefixes: list[str]) -> bool:
    return any(p == "" or path == p or path.startswith(p + "/") for p in prefixes)


def iter_parents(path: str) -> Iterator[str]:
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])
