"""Trees through time: the state of a directory (or the whole share) at a moment.

One definition, shared by restore, ls, diff and find: the tree of SCOPE at T
holds, for each path at or below SCOPE, the newest version recorded at or
before T (the version clock: `time_ns`, the writer's clock when it recorded
the version; ties broken by version id), and leaves out paths whose newest
such version is a deletion. Without T it is the current state: each path's
head (what the last push or pull made of it).

A path that has no version at or before T, but whose oldest remaining version
names a parent this device does not hold (forgotten by a retention policy, as
`fog forget` thins old versions), existed before that version: its state at T
is unknown, not "absent". `tree_at` leaves it out of the tree and, when asked,
lists it apart (`forgotten`), so that `restore --delete` leaves it alone and
`ls`/`diff` say so rather than treat it as made since.

A moment is named by a tree REV (`resolve_moment`): an ISO date or date-time,
an age (`2h`, `3d`), `yesterday`, `~N` (the state right before the N-th most
recent push that brought new versions under SCOPE: see `pushes`), a push:
`push:ID` (the state right after it; ID is a prefix of the batch id `fog log
--pushes` shows, or DEVICE:N, that device's N-th batch) and `push:ID^` (right
before it), or a version id prefix of SCOPE itself (the moment of that
version, whatever SCOPE is now).

The tree is read in one pass over the `history` sub-database (keys are
pathkey · time · id[:8], so each path's versions are contiguous and in time
order), then one record lookup per path kept.
"""

from __future__ import annotations

import fnmatch
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import lmdb

from fog.errors import RevisionError
from fog.format.paths import FS_ENCODING
from fog.format.version import Version
from fog.repo import pushes as pushes_mod
from fog.repo.db import RepoDB
from fog.repo.history import after_prefix, history_id, read_record
from fog.repo.pushes import Push
from fog.repo.revs import parse_when, parse_whole

_U64 = struct.Struct(">Q")
_BACK = re.compile(r"~([0-9]{1,18})\Z")
_PUSH = re.compile(r"push:(?P<name>[^^\n]+)(?P<before>\^?)\Z")
_HEX = re.compile(r"[0-9a-fA-F]{4,64}\Z")
_LONG = b"\xff"  # pathkey of a path over 400 bytes: 0xFF || SHA256 (history.pathkey)


@dataclass
class Moment:
    """What a tree REV resolved to: a time (None: the current state), and how to say it."""

    when_ns: int | None
    label: str
    push: Push | None = None
    version: Version | None = None  # a version id named it: that version of the path itself


def _ranges(scope: str) -> list[tuple[bytes, bool]]:
    """History key ranges holding SCOPE's paths: (prefix, exact path only)."""
    if not scope:
        return [(b"", False)]
    raw = scope.encode(FS_ENCODING, "surrogateescape")
    return [(raw, True), (raw + b"/", False), (_LONG, False)]


def _in_scope(path: str, scope: str) -> bool:
    return not scope or path == scope or path.startswith(scope + "/")


def tree_at(
    db: RepoDB, scope: str, when_ns: int | None, forgotten: dict[str, Version] | None = None
) -> dict[str, Version]:
    """SCOPE's tree at `when_ns` (None: the heads): path -> version, deletions left out, in path order.

    `forgotten`, when given (and `when_ns` is not None), receives the paths whose state at `when_ns` is
    unknown (module docstring), each with its oldest remaining version."""
    out: dict[str, Version] = {}
    table = db.db["heads" if when_ns is None else "history"]
    tail = 0 if when_ns is None else 16
    with db.read() as txn:
        chosen: list[tuple[bytes, bytes]] = []
        oldest: list[tuple[bytes, bytes]] | None = [] if forgotten is not None and when_ns is not None else None
        check = db.span(txn)
        for prefix, exact in _ranges(scope):
            check(b"heads" if when_ns is None else b"history", prefix, after_prefix(prefix))
            chosen.extend(_pick(txn, table, prefix, exact, tail, when_ns, oldest))
        versions, timeline = db.db["versions"], db.db["timeline"]
        for key, value in chosen:
            vid = value if when_ns is None else history_id(txn, versions, timeline, key, value, check)
            raw = read_record(txn, versions, timeline, vid, check) if vid is not None else None
            if raw is None:
                continue
            v = Version.from_record(vid, raw)
            if not v.deleted and _in_scope(v.path, scope):  # (a long path's key says nothing of its scope)
                out[v.path] = v
        found: dict[str, Version] = {}
        for key, value in oldest or ():
            vid = history_id(txn, versions, timeline, key, value, check)
            raw = read_record(txn, versions, timeline, vid, check) if vid is not None else None
            if raw is None:
                continue
            v = Version.from_record(vid, raw)
            if v.parent is not None and _in_scope(v.path, scope) and not db.has_version(v.parent, txn):
                found[v.path] = v
    if forgotten is not None:
        forgotten.update(sorted(found.items()))
    return dict(sorted(out.items()))


def _pick(
    txn: lmdb.Transaction,
    table: object,
    prefix: bytes,
    exact: bool,
    tail: int,
    when_ns: int | None,
    oldest: list[tuple[bytes, bytes]] | None = None,
) -> Iterator[tuple[bytes, bytes]]:
    """For each path key under `prefix`, the entry (key, value) of its newest version at or before `when_ns`
    (in `heads` the value is the id; in `history`, history_id finds it). `oldest` receives the entry of
    the oldest version of each path that has none at or before `when_ns`."""
    cur = txn.cursor(table)
    if not cur.set_range(prefix):
        return
    at, best, first = b"", None, None
    for key, value in cur:
        if not key.startswith(prefix):
            break
        pk = key[: len(key) - tail] if tail else key
        if exact and len(pk) != len(prefix):
            continue  # a longer path that merely starts with it ("a-b" after "a")
        if pk != at:
            if best is not None:
                yield best
            elif oldest is not None and first is not None:
                oldest.append(first)
            at, best, first = pk, None, (key, value)
        if when_ns is None or _U64.unpack_from(key, len(key) - 16)[0] <= when_ns:
            best = key, value
    if best is not None:
        yield best
    elif oldest is not None and first is not None:
        oldest.append(first)


def has_history(db: RepoDB, scope: str) -> bool:
    """Whether anything at or below SCOPE was ever recorded."""
    with db.read() as txn:
        for prefix, exact in _ranges(scope):
            if prefix == _LONG:
                continue
            for _ in _pick(txn, db.db["history"], prefix, exact, 16, None):
                return True
    return False


def is_tree(db: RepoDB, scope: str) -> bool:
    """Whether SCOPE names a directory in history (or the share): a tree, not one file."""
    if not scope:
        return True
    history = db.path_history(scope)
    if any(v.kind == "dir" for v in history):
        return True
    return not history and has_history(db, scope)


# -- pushes ---------------------------------------------------------------------------------


def pushes(db: RepoDB, scope: str = "") -> list[Push]:
    """The pushes that brought new versions (still recorded) at or below SCOPE, newest first.

    This is what `~N` counts and `fog log --pushes` lists. A version belongs to
    the push that first published it (`all_pushes`); a batch that only carried
    versions already published (a remote added later filled, a relay, a forget,
    an empty first batch) brought nothing and is not one.
    """
    return [p for p in _chunks_joined(all_pushes(db)) if any(_in_scope(v.path, scope) for v in p.versions)]


def _chunks_joined(found: list[Push]) -> list[Push]:
    """`found` (newest first) with the batches of one push as one push.

    A push of more files than one chunk (fog.sync.push.CHUNK_FILES) publishes a
    batch per chunk, and gives the versions of chunk n the time of its start
    plus n ns: its batches are those of one device whose own versions each
    carry one time, each 1 ns after the last's. The first batch names the push
    (its other batches' ids are its aliases), which spans them all. Without
    this, `~1` after a push of 20,000 files would be the moment before its
    last chunk only.
    """
    out: list[Push] = []
    open_: dict[str, tuple[Push, int]] = {}  # device -> its push being joined, and the time of its last chunk
    for p in reversed(found):  # oldest first
        span = p.span or (p.before_ns, p.after_ns)
        if (
            p.id is None
            or span[1] - span[0] != 1
            or not any(v.device == p.device and not v.conflict for v in p.versions)
        ):
            out.append(p)
            continue
        joined = open_.get(p.device)
        if joined is None or joined[1] + 1 != span[1]:
            open_[p.device] = (p, span[1])
            out.append(p)
            continue
        have = joined[0]
        have.versions = sorted([*have.versions, *p.versions], key=lambda v: v.path)
        have.aliases += [i for i in (p.id, *p.aliases) if i]
        for remote, seq in p.remotes.items():
            have.remotes.setdefault(remote, seq)
        have.span = (have.span[0] if have.span else have.before_ns, span[1])
        open_[p.device] = (have, span[1])
    out.sort(key=lambda p: (p.after_ns, p.time_ns, p.id or b""), reverse=True)  # (a joined push ends later)
    return out


def all_pushes(db: RepoDB) -> list[Push]:
    """Every batch this device wrote or read (the batches of one push on several remotes as one), newest first.

    Each recorded version is given to one of them, the push that brought it:
    its author's earliest batch carrying it (by batch time; a conflict copy,
    which its loser's author never published, the earliest batch of any
    device), so a batch that filled a new remote with versions already pushed
    has none. A push is dated by the versions it brought (the version clock,
    as trees are read); one that brought none by its batch time. Versions no
    batch record carries (recorded by a fog before these records) form pushes
    of their own, one per device and recording time.
    """
    by_id: dict[bytes, Version] = {}
    for v in db.all_versions():
        by_id[v.id] = v
    with db.read() as txn:
        db.walkable(txn, "batches")
        batches = pushes_mod.merged(pushes_mod.read_all(txn, db.db["batches"]))
    carriers: dict[bytes, list[Push]] = {}
    for p in batches:
        for i in set(p.ids):
            if i in by_id:
                carriers.setdefault(i, []).append(p)
    for i, found in carriers.items():
        v = by_id[i]
        first = min(found, key=lambda p: (v.conflict or p.device != v.device, p.time_ns, p.id or b""))
        first.versions.append(v)
    out: list[Push] = list(batches)
    loose: dict[tuple[str, int], Push] = {}
    for v in by_id.values():
        if v.id not in carriers:
            key = (v.device, v.time_ns)
            loose.setdefault(key, Push(None, v.device, v.time_ns)).versions.append(v)
    out.extend(loose.values())
    for p in out:
        p.versions.sort(key=lambda v: v.path)
        p.fix_span()
    out.sort(key=lambda p: (p.after_ns, p.time_ns, p.id or b""), reverse=True)
    return out


def find_push(db: RepoDB, name: str, names: dict[str, str]) -> Push:
    """A push by id prefix (4+ hex digits) or by DEVICE:N (a device's N-th batch); any batch, even one that
    brought nothing new (it names the moment it was written)."""
    candidates = all_pushes(db)
    if ":" in name:
        who, _, seq_text = name.rpartition(":")
        seq = parse_whole(seq_text)
        if seq is None:
            raise RevisionError(f"push:{name}: write push:DEVICE:N with N a batch number")
        hits = [
            p
            for p in candidates
            if p.id is not None
            and seq in p.remotes.values()
            and (names.get(p.device) == who or p.device.startswith(who.lower()))
        ]
    elif _HEX.match(name):
        want = name.lower()
        hits = [p for p in candidates if any(i.hex().startswith(want) for i in [p.id or b"", *p.aliases] if i)]
    else:
        raise RevisionError(f"push:{name}: name a push by its id (fog log --pushes) or as push:DEVICE:N")
    if not hits:
        raise RevisionError(f"push:{name}: no such push (see fog log --pushes)")
    if len(hits) > 1 and ":" in name:
        # each remote numbers a device's batches: a remote added later counts from 1 again. N is
        # origin's numbering when origin has it (the remote every device starts with)
        on_origin = [p for p in hits if p.remotes.get("origin") == seq]
        if len(on_origin) == 1:
            return on_origin[0]
        which = ", ".join(f"{p.name} ({'/'.join(sorted(p.remotes))})" for p in hits)
        raise RevisionError(
            f"push:{name}: each remote numbers batches on its own, and {which} match: name it by its id"
        )
    if len(hits) > 1:
        raise RevisionError(f"push:{name}: {len(hits)} pushes match; give more digits of the id")
    return hits[0]


def resolve_moment(db: RepoDB, scope: str, rev: str | None, names: dict[str, str]) -> Moment:
    """The moment a tree REV names (see the module docstring)."""
    if rev is None or rev == "":
        return Moment(None, "now")
    m = _PUSH.match(rev)
    if m:
        p = find_push(db, m.group("name"), names)
        device = names.get(p.device, p.device[:8])
        if m.group("before"):
            return Moment(p.before_ns, f"right before push {p.name} by {device} ({iso(p.before_ns + 1)})", p)
        return Moment(p.after_ns, f"push {p.name} by {device} ({iso(p.after_ns)})", p)
    m = _BACK.match(rev)
    if m:
        n = int(m.group(1))
        if n == 0:
            return Moment(None, "now")
        touching = pushes(db, scope)
        if n > len(touching):
            where = scope or "the share"
            raise RevisionError(f"{where}@{rev}: only {len(touching)} push(es) changed it (~0 to ~{len(touching)})")
        p = touching[n - 1]
        return Moment(p.before_ns, f"right before push {p.name} ({iso(p.before_ns + 1)})", p)
    if scope and _HEX.match(rev):  # a version of the path itself, whatever the path is now
        want = rev.lower()
        hits = [v for v in db.path_history(scope) if v.id.hex().startswith(want)]
        if len(hits) > 1:
            raise RevisionError(f"{scope}@{rev}: ambiguous, {len(hits)} versions start with it; give more digits")
        if hits:
            v = hits[0]
            return Moment(v.time_ns, f"version {v.id.hex()[:12]} ({iso(v.time_ns)})", version=v)
        if not re.match(r"\d{4}", rev):  # (not a year either)
            raise RevisionError(
                f"{scope}@{rev}: no version of {scope} starts with {rev} (fog log {scope} lists them with their ids)"
            )
    try:
        when = parse_when(rev)
    except RevisionError:
        raise RevisionError(
            f"cannot read {rev!r} as a REV for a tree (use ~N, push:ID, push:ID^, an age like 2h or 3d, "
            "'yesterday', or an ISO date/time)"
        ) from None
    return Moment(when, iso(when))


def find(db: RepoDB, pattern: str, scope: str = "") -> dict[str, list[Version]]:
    """Every path in history (deleted ones too) matching a glob, with its versions newest first.

    A pattern without '/' matches a path's last component (like `find -name`);
    with one, the whole share path. '*' crosses '/' in a whole-path pattern.
    """
    whole = "/" in pattern
    out: dict[str, list[Version]] = {}
    with db.read() as txn:
        for path, versions, _head in db.histories(txn):
            if not _in_scope(path, scope):
                continue
            subject = path if whole else path.rsplit("/", 1)[-1]
            if fnmatch.fnmatchcase(subject, pattern):
                out[path] = sorted(versions, key=lambda v: (v.time_ns, v.id), reverse=True)
    return dict(sorted(out.items()))


def iso(ns: int) -> str:
    """A moment in local time to the second; in UTC when local time cannot hold it (9999-12-31 east of UTC)."""
    utc = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    try:
        return utc.astimezone().isoformat(timespec="seconds")
    except (ValueError, OverflowError):
        return utc.isoformat(timespec="seconds")
