"""Walk the working tree and compare it with the stat index.

The scan costs one lstat per entry (from os.scandir) and one index lookup; a
file whose stat matches its index entry is never opened. Entries that changed
are returned for the caller to read and hash.
"""

from __future__ import annotations

import os
import stat as st
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fog.frozen import quick_init
from fog.repo.db import stat_matches
from fog.repo.share import FOG_DIR

TMP_PREFIX = ".fog-tmp-"  # temp names of fog.sync.content.write_version: never synced


class Stat:
    """The five stat fields fog compares, under os.stat_result's names.

    An os.stat_result holds ~20 Python objects (~600 bytes); a scan of 100,000
    files keeps one of these per file instead.
    """

    __slots__ = ("st_size", "st_mtime_ns", "st_ino", "st_ctime_ns", "st_mode")

    def __init__(self, s: os.stat_result) -> None:
        self.st_size = s.st_size
        self.st_mtime_ns = s.st_mtime_ns
        self.st_ino = s.st_ino
        self.st_ctime_ns = s.st_ctime_ns
        self.st_mode = s.st_mode


@quick_init
@dataclass(frozen=True, slots=True)
class Entry:
    """One working-tree entry: path relative to the share root, '/'-separated."""

    path: str
    kind: str  # file | dir | link
    st: Stat
    target: str | None = None


class StatIndex(Protocol):
    """What the scan needs of the stat index (fog.repo.db.StatView)."""

    def raw(self, path: str) -> bytes | None: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[str]: ...


@dataclass
class Diff:
    """How the tree differs from the stat index, before any file is read."""

    candidates: list[Entry] = field(default_factory=list)  # new or stat-changed: read them
    gone: list[str] = field(default_factory=list)  # indexed, no longer present
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # unreadable dirs, special files
    flagged: list[str] = field(default_factory=list)  # paths the caller's `flag` picked


def scan(root: Path, index: StatIndex, flag: Callable[[str], bool] | None = None) -> Diff:
    """Walk every file, directory and symlink below root (not `.fog/`), comparing as it goes.

    One lstat per entry (from os.scandir) and one index lookup compared as
    bytes; an entry that matches is counted and dropped, so a scan of 100,000
    unchanged files builds no object per file. Only candidates are kept.
    """
    out = Diff()
    seen: set[str] = set()
    unreadable: list[str] = []
    stack = [""]
    top = str(root)
    while stack:
        rel = stack.pop()
        try:
            it = os.scandir(os.path.join(top, rel) if rel else top)
        except FileNotFoundError:
            continue  # vanished during the scan: its absence is what we saw
        except OSError as exc:
            unreadable.append(rel)
            out.skipped.append(f"{rel or '.'}: {exc.strerror}")
            continue
        with it:
            for de in it:
                name = de.name
                if (not rel and name == FOG_DIR) or name.startswith(TMP_PREFIX):
                    continue  # fog's own files: the repository, temp files of a killed pull/restore
                path = f"{rel}/{name}" if rel else name
                try:
                    s = de.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    out.skipped.append(f"{path}: {exc.strerror}")
                    continue
                mode = s.st_mode
                if st.S_ISREG(mode):
                    kind = "file"
                elif st.S_ISDIR(mode):
                    kind = "dir"
                    stack.append(path)
                elif st.S_ISLNK(mode):
                    kind = "link"
                else:
                    out.skipped.append(f"{path}: not a regular file, directory or symlink")
                    continue
                seen.add(path)
                if flag is not None and flag(path):
                    out.flagged.append(path)
                if stat_matches(index.raw(path), path, s, kind == "dir"):
                    out.unchanged += 1
                    continue
                target = None
                if kind == "link":
                    try:
                        target = os.readlink(de.path)
                    except OSError:
                        seen.discard(path)
                        continue
                out.candidates.append(Entry(path, kind, Stat(s), target))
    if len(index) != out.unchanged:  # something indexed was not matched: find what is gone
        for path in index:
            if path not in seen and not under_any(path, unreadable):
                out.gone.append(path)
    out.candidates.sort(key=lambda e: e.path)
    out.gone.sort()
    out.flagged.sort()
    return out


def under_any(path: str, prefixes: list[str]) -> bool:
    return any(p == "" or path == p or path.startswith(p + "/") for p in prefixes)


def iter_parents(path: str) -> Iterator[str]:
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])
