"""Walk the working tree and compare it with the stat index.

The scan costs one lstat per entry (from os.scandir) and one dict lookup; a file
whose stat matches its index entry is never opened. Entries that changed are
returned for the caller to read and hash.
"""

from __future__ import annotations

import os
import stat as st
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fog.repo.db import StatEntry
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


@dataclass(frozen=True, slots=True)
class Entry:
    """One working-tree entry: path relative to the share root, '/'-separated."""

    path: str
    kind: str  # file | dir | link
    st: Stat
    target: str | None = None


@dataclass
class ScanResult:
    entries: dict[str, Entry] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # unreadable dirs, special files
    unreadable: list[str] = field(default_factory=list)  # dirs whose contents we could not list


def walk(root: Path) -> ScanResult:
    """Every file, directory and symlink below root, except `.fog/`."""
    result = ScanResult()
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            it = os.scandir(root / rel if rel else root)
        except FileNotFoundError:
            continue  # vanished during the scan: its absence is what we saw
        except OSError as exc:
            result.unreadable.append(rel)
            result.skipped.append(f"{rel or '.'}: {exc.strerror}")
            continue
        with it:
            for de in it:
                path = f"{rel}/{de.name}" if rel else de.name
                if (not rel and de.name == FOG_DIR) or de.name.startswith(TMP_PREFIX):
                    continue  # fog's own files: the repository, temp files of a killed pull/restore
                try:
                    s = de.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    result.skipped.append(f"{path}: {exc.strerror}")
                    continue
                if st.S_ISREG(s.st_mode):
                    result.entries[path] = Entry(path, "file", Stat(s))
                elif st.S_ISDIR(s.st_mode):
                    result.entries[path] = Entry(path, "dir", Stat(s))
                    stack.append(path)
                elif st.S_ISLNK(s.st_mode):
                    try:
                        result.entries[path] = Entry(path, "link", Stat(s), os.readlink(de.path))
                    except OSError:
                        continue
                else:
                    result.skipped.append(f"{path}: not a regular file, directory or symlink")
    return result


def under_any(path: str, prefixes: list[str]) -> bool:
    return any(p == "" or path == p or path.startswith(p + "/") for p in prefixes)


@dataclass
class Diff:
    """How the tree differs from the stat index, before any file is read."""

    candidates: list[Entry] = field(default_factory=list)  # new or stat-changed: read them
    gone: list[str] = field(default_factory=list)  # indexed, no longer present
    unchanged: int = 0


class StatIndex(Protocol):
    """What diff needs of the stat index: a dict, or fog.repo.db.StatView."""

    def get(self, path: str) -> StatEntry | None: ...

    def __iter__(self) -> Iterator[str]: ...


def diff(scan: ScanResult, index: StatIndex) -> Diff:
    out = Diff()
    for path, entry in scan.entries.items():
        old = index.get(path)
        if old is not None and _same(entry, old):
            out.unchanged += 1
        else:
            out.candidates.append(entry)
    for path in index:
        if path not in scan.entries and not under_any(path, scan.unreadable):
            out.gone.append(path)
    out.candidates.sort(key=lambda e: e.path)
    out.gone.sort()
    return out


def _same(entry: Entry, old: StatEntry) -> bool:
    if entry.kind == "dir":
        return old.mode == entry.st.st_mode
    return old.matches(entry.st)


def iter_parents(path: str) -> Iterator[str]:
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])
