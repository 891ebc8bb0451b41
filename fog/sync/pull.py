"""pull: read every device's new batches, verify them, apply them path by path.

Order: refresh the SyncConfig; verify batches (nothing is applied from a
device whose log fails verification), staging the versions not known here on
disk (fog.sync.incoming); then, chunk by chunk of paths (sorted), plan each
path (fog.sync.merge), write its files atomically and commit the chunk's
versions, heads and stat entries in one transaction; last, the cursors (and
forgets) in one more. Memory stays that of one chunk's versions and plans. A pull
killed part-way leaves files that already equal their new version, and
recorded chunks whose versions the re-run sees as known, so running it again
ends in the same state.
"""

from __future__ import annotations

import json
import os
import stat as st
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fog import cancel
from fog.errors import IntegrityError
from fog.format.syncconfig import SyncConfig
from fog.format.version import Version, in_fog_dir
from fog.pathlist import PathList
from fog.repo import pushes
from fog.repo.db import RepoDB, StatEntry, StatView, stat_mode
from fog.repo.share import CLONING, PLACING
from fog.store import PutStats, ShareStore
from fog.sync import members, nodes, prune
from fog.sync.apply import apply_plans
from fog.sync.content import FileReader
from fog.sync.context import Context, remember_others, sweep_staging
from fog.sync.guard import DeleteLimit
from fog.sync.ignore import IGNORE_FILE, Ignore
from fog.sync.incoming import DELETED, FILE, NEW, Entry, Staged, encode_path
from fog.sync.keyring import refresh_config  # noqa: F401  (where it lived; fog.sync.devices and prune use it)
from fog.sync.logs import (
    LogOwner,
    accepted_limit,
    accepted_pin,
    audit_log,
    logs_by_name,
    read_before_text,
    read_log,
    revoked_text,
    rollback_advice,
)
from fog.sync.merge import CONFLICT_MARK, Plan, plan_path
from fog.sync.meter import Progress, finish, meter, told
from fog.sync.push import UNAPPLIED, catch_up_own_log
from fog.sync.remotes import left_text, reconcile, replaced_text
from fog.sync.scan import FOG_HOME_HERE, NESTED_SHARE, is_nested_share


@dataclass
class PullResult:
    remote: str
    batches: int = 0
    versions: int = 0
    # the paths written and deleted: every one (a clone's whole tree), so held compactly (fog.pathlist)
    updated: PathList = field(default_factory=PathList)
    bytes_written: int = 0  # file bytes written into the share
    deleted: PathList = field(default_factory=PathList)
    conflicts: list[str] = field(default_factory=list)  # conflict copies written
    kept: list[str] = field(default_factory=list)  # local edits kept over incoming changes
    kept_deleted: list[str] = field(default_factory=list, repr=False)  # of those, paths deleted elsewhere
    problems: list[str] = field(default_factory=list)  # refused devices (integrity)
    # what was left unapplied without anything being wrong: a revoked device's batches past its limit
    # (each reported once), a batch sealed with a key epoch this device does not hold yet
    warnings: list[str] = field(default_factory=list)
    # logs no device in the SyncConfig owns: set aside, never applied; each {"log", "remote", "batches", "new"}
    # ("new": first seen by this device on that remote, so reported in words only then)
    foreign_logs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # versions never written here, and why
    failed: list[str] = field(default_factory=list)  # paths that could not be applied (retried next pull), and why
    remote_errors: dict[str, str] = field(default_factory=dict)  # remotes that failed, and why
    remotes_added: list[str] = field(default_factory=list)  # learnt from the SyncConfig: used from now on
    remotes_removed: list[str] = field(default_factory=list)  # removed by another device
    forgotten: int = 0  # versions this device held that another device forgot: dropped from its history
    seconds: float = 0.0

    def absorb(self, other: PullResult) -> None:
        """Add another remote's pull to this report."""
        self.batches += other.batches
        self.versions += other.versions
        self.forgotten += other.forgotten
        for name in (
            "updated",
            "deleted",
            "conflicts",
            "kept",
            "kept_deleted",
            "problems",
            "warnings",
            "foreign_logs",
            "skipped",
            "failed",
            "remotes_added",
            "remotes_removed",
        ):
            mine = getattr(self, name)
            if isinstance(mine, PathList):
                mine.add_new(getattr(other, name))  # (no set of str: a clone's every path)
                continue
            seen = {_report_key(x) for x in mine}  # a set: 124,000 paths against a list took 400 s
            for x in getattr(other, name):
                if (key := _report_key(x)) not in seen:
                    seen.add(key)
                    mine.append(x)
        self.remote_errors.update(other.remote_errors)
        self.seconds += other.seconds
        self.bytes_written += other.bytes_written


def _report_key(item: Any) -> Any:
    """What tells two entries of a report's list apart: the entry, or the JSON of a dict (not hashable)."""
    return json.dumps(item, sort_keys=True, default=str) if isinstance(item, dict) else item


@dataclass
class Incoming:
    device: str
    log: str
    seq: int
    chain: bytes
    forgets: tuple[bytes, ...] = ()
    time_ns: int = 0  # the batch's own time
    ids: bytes = b""  # the ids of its versions, end to end (its versions are staged, or known here)


def collect(ctx: Context, config: SyncConfig, result: PullResult, staged: Staged, carried: bytearray) -> list[Incoming]:
    """Verified new batches of every other device, oldest first per device; their versions staged.

    Each version not known here goes into `staged` (one in a .fog directory is
    skipped, one forgotten before is left out); the ids of those known here
    already are added to `carried` (this remote has them: nothing to publish
    there again).

    A log that no device in the SyncConfig owns (a damaged identity pushed it,
    or the remote made it up) cannot be verified and is set aside, listed in
    `result.foreign_logs`: it must not stop every device from syncing. A log
    of a known device that fails verification is a problem (exit 4). A
    revoked device's batches past its limit are not read at all: a warning
    says so once per log and top batch (the device may well still be pushing;
    nothing is wrong).
    """
    share_hex = ctx.keys.share_id.hex()
    by_log = logs_by_name(ctx.keys.share_id, config.devices)
    secrets = ctx.user_secrets
    out: list[Incoming] = []
    anchors: dict[str, tuple[int, bytes | None]] = {}
    remote_logs = ctx.store.list_logs()
    key = f"foreign-logs\0{ctx.remote_name}"
    reported = set(json.loads(ctx.share.db.get_meta(key) or b"[]"))
    foreign: list[str] = []
    waiting: list[str] = []
    revoked_key = f"revoked-logs\0{ctx.remote_name}"
    told: dict[str, int] = json.loads(ctx.share.db.get_meta(revoked_key) or b"{}")
    beyond: dict[str, int] = {}
    # Every listed device's log is checked, also when it vanished from the remote
    # entirely: a cursor above 0 then proves the remote was rolled back.
    for number, log in enumerate(sorted(remote_logs.keys() | by_log.keys())):  # (number: staged.drop_log)
        seqs = remote_logs.get(log, [])
        if log == ctx.log:
            continue
        if log not in by_log:
            foreign.append(log)
            read = ctx.share.db.cursor(ctx.remote_name, log)[0]
            if read and seqs:  # read here before: its device's history, set aside, never "to delete"
                if log not in reported:
                    result.warnings.append(read_before_text(log, ctx.remote_name, read))
                continue
            result.foreign_logs.append(
                {"log": log, "remote": ctx.remote_name, "batches": len(seqs), "new": log not in reported}
            )
            continue
        did, dev = by_log[log]
        owner = LogOwner.of(did, dev)
        cursor = ctx.share.db.cursor(ctx.remote_name, log)
        top = seqs[-1] if seqs else 0
        limit = accepted_limit(dev, share_hex, ctx.remote_name)
        bound = top if limit is None else max(limit, cursor[0])  # (what was read before stays read)
        if top > bound:
            beyond[log] = top
            if told.get(log) != top:
                result.warnings.append(revoked_text(owner.name, ctx.remote_name, bound, top, dev))
        got: list[Incoming] = []
        skipped: list[str] = []
        known = bytearray()
        user = dev.get("user_id")  # another user's device (a shared share); None: one of this user's
        theirs: set[bytes] = set()  # (that user's versions this log brought in this pull)
        try:
            # batches read before must still be there, in their order (not only the one at the cursor)
            anchor = ctx.share.db.audit_anchor(ctx.remote_name, log)
            audited = audit_log(ctx.store, secrets, owner, log, cursor, anchor, seqs)
            if audited != anchor:
                anchors[log] = audited
            readable = [seq for seq in seqs if seq <= bound]
            pin = accepted_pin(dev, share_hex, ctx.remote_name)
            for vb in read_log(ctx.store, secrets, owner, log, cursor, readable, notes=waiting, pin=pin):
                if not dev.get("trusted", True):
                    raise IntegrityError(f"device {owner.name!r} is not trusted; its batches are refused")
                for v in vb.batch.versions:
                    # A version may be relayed by another device (seeding a new remote); its id,
                    # an HMAC under the share key, proves a trusted device made it.
                    if v.device not in config.devices or ctx.version_id(v) != v.id:
                        raise IntegrityError(f"batch {vb.seq} of {owner.name!r} holds a forged version")
                forgets = vb.batch.forgets
                versions = vb.batch.versions
                if user is not None:
                    theirs.update(v.id for v in versions if config.devices[v.device].get("user_id") == user)
                    forgets = _their_forgets(ctx, config, user, forgets, theirs, owner.name, result)
                    versions = _their_versions(ctx, config, user, versions, owner.name, result)
                got.append(Incoming(did, log, vb.seq, vb.chain, forgets, vb.batch.time_ns))
                got[-1].ids = _stage(ctx, versions, staged, number, skipped, known)
        except IntegrityError as exc:
            why = str(exc)
            if top < cursor[0]:  # rolled back: say what to do (as push and `remote list` do)
                why += "; " + rollback_advice(ctx.remote_name, node=nodes.is_node_url(ctx.url))
            result.problems.append(why)
            if got:
                staged.drop_log(number)
            continue  # nothing from a suspect device
        out.extend(got)
        result.skipped += skipped
        carried += known
    # a batch that waits for a key epoch (or a signing key) this device does not hold yet: said once
    waiting_key = f"waiting-logs\0{ctx.remote_name}"
    waited = set(json.loads(ctx.share.db.get_meta(waiting_key) or b"[]"))
    result.warnings.extend(n for n in waiting if n not in waited)
    if set(waiting) != waited:
        ctx.share.db.put_meta(waiting_key, json.dumps(sorted(set(waiting))).encode())
    if set(foreign) != reported:  # remembered so that a cron job hears of each one once
        ctx.share.db.put_meta(key, json.dumps(sorted(foreign)).encode())
    if beyond != told:
        ctx.share.db.put_meta(revoked_key, json.dumps(beyond, sort_keys=True).encode())
    if anchors:
        with ctx.share.db.write() as txn:
            for log, anchor in anchors.items():
                ctx.share.db.set_audit_anchor(txn, ctx.remote_name, log, anchor)
    return out


def _their_versions(
    ctx: Context, config: SyncConfig, user: str, versions: tuple[Version, ...], who: str, result: PullResult
) -> tuple[Version, ...]:
    """Of the new versions another user's device publishes, those it may publish: its user's own, a
    conflict copy (which keeps the author of the version it copies), and a relay of a version known
    here already. A member holds the share's keys and could give any version any device: a version
    claiming a device of another user (the owner's, this user's) would show as theirs in `fog log`.
    The others are set aside here, with a warning."""
    db = ctx.share.db
    kept = tuple(
        v
        for v in versions
        if config.devices[v.device].get("user_id") == user
        or (v.conflict and CONFLICT_MARK in v.path)
        or db.version(v.id) is not None
    )
    if len(kept) < len(versions):
        result.warnings.append(
            f"{who} published {len(versions) - len(kept)} version(s) made, it says, by another user's device: "
            "set aside (a member publishes only their own versions)"
        )
    return kept


def _their_forgets(
    ctx: Context,
    config: SyncConfig,
    user: str,
    forgets: tuple[bytes, ...],
    theirs: set[bytes],
    who: str,
    result: PullResult,
) -> tuple[bytes, ...]:
    """Of what another user's device forgets, the versions that user made: a member trims their own
    history, never the owner's or a third member's (their `fog forget` or retention would erase it on
    every device). The others are set aside here, with a warning."""
    kept = []
    for version_id in forgets:
        v = None if version_id in theirs else ctx.share.db.version(version_id)  # (unknown here: whose?)
        if version_id in theirs or (v is not None and config.devices.get(v.device, {}).get("user_id") == user):
            kept.append(version_id)
    if len(kept) < len(forgets):
        result.warnings.append(
            f"{who} forgot {len(forgets) - len(kept)} version(s) another user made: set aside (a member forgets "
            "only their own versions)"
        )
    return tuple(kept)


def _stage(
    ctx: Context, versions: tuple[Version, ...], staged: Staged, log: int, skipped: list[str], known: bytearray
) -> bytes:
    """Stage a batch's versions not known here; return their ids, end to end."""
    db = ctx.share.db
    with db.read() as txn:  # one transaction for every lookup
        for v in versions:
            if in_fog_dir(v.path):
                skipped.append(f"{v.path}: {_IN_FOG_DIR}")
            elif db.is_forgotten(v.id, txn):
                continue  # forgotten before: never recorded, never applied
            elif not db.has_version(v.id, txn):
                staged.add(v, log)
            else:
                known += v.id
    return b"".join(v.id for v in versions)


class LocalState:
    """Lazy view of one working-tree path relative to the stat index."""

    def __init__(self, ctx: Context, path: str, entry: StatEntry | None, dirs: dict[str, int]) -> None:
        """`dirs`: what the parent paths are here (parent_state), shared by the paths of one chunk.

        OSError (EACCES: a parent directory that cannot be searched) when the
        path cannot be looked at: the caller reports it and leaves it alone.
        """
        self.ctx, self.path, self.entry = ctx, path, entry
        self.full = os.path.join(ctx.share.top, path)  # a str: pathlib costs more than the syscalls here
        self.st: os.stat_result | None = None
        # the nested share (or FOG_HOME, Share.fenced) it is, or lies in: never written (scan.is_nested_share)
        self.nested: str | None = None
        fenced = ctx.share.fenced
        state = parent_state(ctx.share.top, path, dirs, fenced)
        if state == NESTED:
            self.nested = nested_root(path, dirs)
        elif state == REAL:  # (through a symlinked parent: not in this tree)
            try:
                self.st = os.lstat(self.full)
            except (FileNotFoundError, NotADirectoryError):
                pass
            if self.st is not None and st.S_ISDIR(self.st.st_mode) and (path == fenced or is_nested_share(self.full)):
                self.nested = path
        self._sig: tuple | None = None

    def signature(self) -> tuple | None:
        """(kind, mode, content, depth, size, target) of the working entry."""
        if self._sig is None and self.st is not None:
            s = self.st
            mode = st.S_IMODE(s.st_mode)
            if st.S_ISDIR(s.st_mode):
                self._sig = ("dir", mode, None, 0, 0, None)
            elif st.S_ISLNK(s.st_mode):
                target = os.readlink(self.full)
                self._sig = ("link", 0o777, None, 0, len(os.fsencode(target)), target)
            elif st.S_ISREG(s.st_mode):
                c = FileReader(self.ctx.keys, None).read(self.full, s, PutStats())
                self._sig = ("file", mode, c.root, c.depth, c.size, None)
            else:
                self._sig = ("special", 0, None, 0, 0, None)
        return self._sig

    def kind(self) -> str | None:
        """file, dir, link or special; None when nothing is there."""
        if self.st is None:
            return None
        mode = self.st.st_mode
        if st.S_ISREG(mode):
            return "file"
        return "dir" if st.S_ISDIR(mode) else "link" if st.S_ISLNK(mode) else "special"

    def matches(self, v: Version) -> bool:
        if self.st is None:
            return v.kind == "deleted"
        return self.signature() == (v.kind, v.mode, v.content, v.depth, v.size, v.target)

    def unplaced(self) -> bool:
        """Still the very file the stat index names (its inode): no pull placed another one here since, so
        the entry's version is what it was edited from (a placed file is a new inode, renamed over it)."""
        return (
            self.entry is not None
            and self.st is not None
            and st.S_ISREG(self.st.st_mode)
            and st.S_ISREG(self.entry.mode)
            and self.st.st_ino == self.entry.ino
        )

    def dirty(self) -> bool:
        """Holds a change fog never recorded (a missing file counts as clean)."""
        if self.st is None:
            return False
        if self.entry is None:
            return not st.S_ISDIR(self.st.st_mode)
        if st.S_ISDIR(self.st.st_mode):
            return not stat_dir(self.entry)
        if self.entry.matches(self.st):
            return False
        base = self.ctx.share.db.version(self.entry.version)
        return base is None or not self.matches(base)


NOT_HERE, REAL, NESTED = 0, 1, 2  # what the parents of a path are here (parent_state)


def parent_state(top: str, path: str, dirs: dict[str, int], fenced: str | None = None) -> int:
    """What the parents of `path` are here: REAL, every one a directory; NOT_HERE, one is a symlink to a
    directory, a file or missing (nothing is at `path` in this tree, and what a link leads to is not the
    share's: never read, never deleted); NESTED, one is another share or `fenced` (this device's FOG_HOME:
    push skips it whole, a pull writes, replaces and deletes nothing in it). `dirs` caches the answer for
    each parent."""
    head = path.rpartition("/")[0]
    if not head:
        return REAL
    state = dirs.get(head)
    if state is None:
        state = parent_state(top, head, dirs, fenced)
        if state == REAL:
            full = os.path.join(top, head)
            try:
                real = st.S_ISDIR(os.lstat(full).st_mode)
            except OSError:
                real = False
            state = (NESTED if head == fenced or is_nested_share(full) else REAL) if real else NOT_HERE
        dirs[head] = state
    return state


def nested_root(path: str, dirs: dict[str, int]) -> str:
    """The nested share a path lies in (parent_state said NESTED: its parents are in `dirs`)."""
    rel = ""
    for part in path.split("/")[:-1]:
        rel = f"{rel}/{part}" if rel else part
        if dirs.get(rel) == NESTED:
            return rel
    raise AssertionError(f"no nested share above {path}")


REBUILT = "rebuilt-around-files"  # meta key: set by `fog clone --into-existing`, dropped by its pull


def _untracked(
    plan: Plan,
    local: LocalState,
    head: Version | None,
    incoming: list[Version],
    lookup: Callable[[bytes], Version | None],
    db: RepoDB,
) -> Plan:
    """The plan for a file found in a directory that `fog clone --into-existing` rebuilt `.fog/` around, or
    where a pull that stopped before recording it was placing a file (`placing`).

    Nobody knows which version it was edited from, so: a file that holds an
    older version of its path is stale (nothing of it is lost when the head
    replaces it, the usual plan for a clean file); any other is a local
    change, kept, and published by the next push on top of the head. The
    incoming head goes beside it as a conflict copy only when it is newer
    than the file (the remote moved on after the file was last written).
    """
    assert local.st is not None
    if not st.S_ISDIR(local.st.st_mode) and any(
        local.matches(v) for v in (*incoming, *db.path_history(local.path)) if v.kind != "deleted"
    ):
        return plan_path(plan.path, head, incoming, lookup, False, local.matches, local.kind())
    cur = plan.head
    if cur is not None and cur.time_ns <= local.st.st_mtime_ns:
        plan.conflicts = [v for v in plan.conflicts if v.id != cur.id]
    return plan


_IN_FOG_DIR = "not written: a path inside a .fog directory is never synced"


def stat_dir(entry: StatEntry) -> bool:
    return st.S_ISDIR(entry.mode)


def pull(
    ctx: Context,
    *,
    max_delete: DeleteLimit | None = None,
    progress: Progress | None = None,
    sources: Sequence[ShareStore] = (),
) -> PullResult:
    """Pull from one remote (the module docstring); `progress(done, total)`: bytes of the files it writes."""
    t0 = time.monotonic()
    before = ctx.share.db.pages()  # a clone's pull writes the whole database: then it is repacked (RepoDB.repack_grown)
    result = PullResult(ctx.remote_name)
    config = refresh_config(ctx, spread=True)  # (a remote that lacks something of it gets it)
    reconciled = reconcile(ctx.share, ctx.ident, config, ctx.remote)
    result.remotes_added += reconciled.added
    result.remotes_removed += reconciled.removed
    result.warnings += [replaced_text(*r) for r in reconciled.replaced]
    result.warnings += [left_text(*x) for x in reconciled.left]
    for name in reconciled.stranded:
        result.remote_errors[name] = (
            "removed on another device, but it is the only remote this device uses (it skips the others): "
            "`fog remote unskip NAME` one of them (see `fog remote list`)"
        )
    if ctx.stale:  # this very remote's name was removed or moved: nothing read here may be recorded under it
        return result
    if ctx.archive_skipped:
        result.warnings.append(ctx.archive_skipped)
    # (`sources`: the other remotes, to copy what its adopted batches lack; a clone writes what it adopts)
    catch_up_own_log(ctx, sources, write_new=True)
    prune.observe(ctx)  # before any header scan of this pull: condemned packs do not count as present
    result.problems.extend(sorted(ctx.altered.values()))  # (prune records the remote altered: exit 4)
    sweep_staging(ctx)
    roster = members.load(ctx, config)
    config = members.keep_current(ctx, config, roster)
    seen = members.view(ctx, config, roster)  # (another user's devices, in a shared share)
    ctx.others = members.other_ids(ctx, roster)
    remember_others(ctx)
    result.warnings.extend(members.notices(ctx, roster))
    staged = Staged(ctx.share.tmp_dir())  # (removes the scratch of a pull that was killed)
    try:
        _pull_staged(ctx, seen, result, staged, max_delete, progress)
    finally:
        staged.close()
    ctx.share.db.repack_grown(before)
    result.seconds = time.monotonic() - t0
    return result


def _pull_staged(
    ctx: Context,
    seen: SyncConfig,
    result: PullResult,
    staged: Staged,
    max_delete: DeleteLimit | None,
    progress: Progress | None,
) -> None:
    """The pull's batches read, staged, planned and applied chunk by chunk, then recorded (pull)."""
    carried = bytearray()  # ids of known versions this remote's logs carry: nothing to publish there again
    incoming = collect(ctx, seen, result, staged, carried)
    result.batches += len(incoming)
    result.versions = staged.new
    names = {did: d.get("name", did[:8]) for did, d in seen.devices.items()}
    db = ctx.share.db
    forgets = list(dict.fromkeys(f for inc in incoming for f in inc.forgets))
    named = set(forgets)
    forgotten_on_arrival: set[bytes] = set()  # versions that arrive here and that a batch of this pull forgets
    _retry_unapplied(ctx, staged)
    staged.flush()
    # versions of the chunk's paths that arrived in this pull, and of the paths kept for later (failed,
    # ignored, waiting directories): what the merge looks up before the database
    pending: dict[bytes, Version] = {}
    kept: dict[str, list[Version]] = {}  # the versions of those kept paths

    def lookup(version_id: bytes) -> Version | None:
        return pending.get(version_id) or db.version(version_id)

    dropping = set(forgets) | set(db.forgotten_heads())  # (every other version forgotten before is left out)

    def forgotten(version_id: bytes) -> bool:
        if version_id in dropping:
            return True
        with db.read() as txn:
            return db.is_forgotten(version_id, txn)

    rebuilt = db.get_meta(REBUILT) is not None  # `fog clone --into-existing`: files with no stat entry
    # paths an earlier pull was placing when it stopped: their files may hold a version it never recorded
    placed = set(json.loads(db.get_meta(PLACING) or b"[]"))
    cloning = db.get_meta(CLONING) is not None
    rules = Ignore(ctx.share.root)  # the rules in the tree as the pull starts
    # ignored paths, and paths in nested shares: their versions are recorded, and applied once not
    # ignored (no longer in a nested share)
    left_alone: list[str] = []
    nested: dict[str, str] = {}  # path -> the nested share it is in (or is), from plan_of to its caller
    nested_news: dict[str, int] = {}  # nested share -> how many of its paths got new versions in this pull

    def plan_of(
        path: str, versions: list[Version], stats: StatView, dirs: dict[str, int]
    ) -> tuple[Plan, LocalState] | str:
        """The plan for one path, or why there is none: "ignored" (left alone here), NESTED_HERE (in or at
        a nested share: left alone), or "forgotten". OSError: the path here cannot be looked at or read."""
        head = db.head(path)
        local = LocalState(ctx, path, stats.get(path), dirs)
        if local.nested is not None:
            nested[path] = local.nested
            return NESTED_HERE
        if _ignored_here(rules, path, head, versions, local):
            return "ignored"
        plan = plan_path(path, head, versions, lookup, local.dirty(), local.matches, local.kind())
        if plan.kept_local and ((rebuilt and local.entry is None) or (path in placed and not local.unplaced())):
            plan = _untracked(plan, local, head, versions, lookup, db)
        if dropping and _forgotten_head(plan, head, forgotten):
            return "forgotten"  # nothing of it is applied here; its versions are forgotten below
        return plan, local

    records: dict[bytes, bytes] = {}  # the chunk's new versions' records, as staged (not encoded twice)

    def decoded(entries: list[Entry]) -> list[Version]:
        versions = [e.version() for e in entries]
        for e, v in zip(entries, versions, strict=True):
            if e.flags & NEW:
                pending[v.id] = v
                records[v.id] = e.record
                if v.id in named:
                    forgotten_on_arrival.add(v.id)
        return versions

    # The delete limit is checked before anything is applied: only a path with an incoming deletion
    # can delete a file here (planned twice, so the pull needs no plan of every path at once). The
    # same walk over the staged versions adds up the bytes to write (progress), decoding only those.
    doomed = to_write = 0
    doomed_content: list[bytes | None] = []  # what each file a deletion removes holds (its head's content)
    dirs: dict[str, bool] = {}  # (nothing is applied in between)
    start: bytes | None = b""
    while start is not None:
        groups, start = staged.chunk(start, PULL_CHUNK)
        with db.stat_view() as stats:
            for path, entries in groups:
                to_write += _bytes_to_write(entries)
                if any(e.flags & DELETED for e in entries):
                    try:
                        planned = plan_of(path, decoded(entries), stats, dirs)
                    except OSError:
                        planned = "unreadable"  # (said by the pass that applies)
                    nested.pop(path, None)
                    pending.clear()
                    records.clear()
                    if isinstance(planned, tuple):
                        plan, local = planned
                        if plan.write is not None and plan.write.kind == "deleted" and _deletes_file(local):
                            doomed += 1
                            old = db.head(path)
                            doomed_content.append(old.content if old is not None else None)
        staged.remap()

    if doomed:  # (no deletion: no limit to check, and no walk over the stat index)
        with db.stat_view() as stats:
            tracked = sum(1 for path in stats if not stat_dir_raw(stats.raw(path)))
        limit = max_delete or DeleteLimit.parse(None)
        if doomed > limit.allowed(tracked):  # a file whose content arrives under another path is moved, not lost

            def head_after(path: str, entries: list[Entry], stats: StatView) -> Version | None:
                """The head this pull leaves at `path`, planned as the pass that applies plans it (None: it leaves
                the path alone: ignored, nested, forgotten or unreadable here)."""
                try:
                    planned = plan_of(path, decoded(entries), stats, dirs)
                except OSError:
                    planned = "unreadable"
                finally:
                    nested.pop(path, None)
                    pending.clear()
                    records.clear()
                return planned[0].head if isinstance(planned, tuple) else None

            doomed -= _arriving_elsewhere(db, staged, doomed_content, head_after)
        limit.check(doomed, tracked, "apply")
    others = [name for name in sorted(ctx.share.config.remotes) if name != ctx.remote_name]
    m = meter(progress, to_write)
    on_bytes = told(m)
    scan_start = time.time_ns()
    failed: list[str] = []  # paths not applied: their versions are retried by the next pull
    retry: list[str] = []  # paths applied but for a conflict copy: their versions too are planned again
    retried = json.loads(db.get_meta(UNAPPLIED) or b"[]")
    arrived: list[str] = []
    deferred: list[tuple[Plan, LocalState]] = []

    # Applied in chunks of paths, each recorded in its own transaction: memory stays that of one
    # chunk, whatever the number of files (the chunk's versions alone are read from the staged ones
    # and decoded). A directory cleared (deleted, or replaced by a file) waits for the chunk that
    # holds the last incoming path under it (children before parents).
    def placing(paths: list[str]) -> None:
        # said before they are changed in place: stopped before the chunk's record, the next pull knows;
        # only those (a path whose file was not placed keeps its usual plan, from its stat entry's version)
        placed.update(paths)  # (taken out again once recorded, below)
        with db.write() as txn:
            db.set_meta(txn, PLACING, json.dumps(sorted(placed)).encode())

    planned_bytes = 0  # of the chunks so far (as the progress total counts them)
    start = b""
    while start is not None:
        groups, start = staged.chunk(start, PULL_CHUNK)  # (start: now the next chunk's)
        planned_bytes += sum(_bytes_to_write(entries) for _, entries in groups)
        by_path = {path: decoded(entries) for path, entries in groups}
        del groups
        chunk = list(by_path)
        if not chunk:
            break  # nothing staged: no chunk (and no transaction)
        plans: list[tuple[Plan, LocalState]] = []
        dirs = {}  # per chunk: the chunks before may have made or replaced directories
        unplanned: list[str] = []  # paths that cannot be looked at here (EACCES): left alone, retried
        with db.stat_view() as stats:
            for path in chunk:
                cancel.check()
                try:
                    planned = plan_of(path, by_path[path], stats, dirs)
                except OSError as exc:  # one unreadable file or directory must not stop the others
                    unplanned.append(path)
                    result.failed.append(f"{path}: {exc.strerror or exc}")
                    continue
                if planned == "ignored":
                    left_alone.append(path)
                    if any(v.id in pending for v in by_path[path]):  # (said once, when they arrive)
                        result.skipped.append(f"{path}: {IGNORED_HERE}")
                elif planned == NESTED_HERE:
                    left_alone.append(path)
                    root = nested.pop(path)
                    if any(v.id in pending for v in by_path[path]):  # (said once per share, below)
                        nested_news[root] = nested_news.get(root, 0) + 1
                elif isinstance(planned, tuple):
                    if _clears_dir(planned[0], planned[1]) and staged.subtree_after(path, start):
                        deferred.append(planned)
                    else:
                        plans.append(planned)
        due: list[str] = []  # waiting directories applied in this chunk (from earlier chunks)
        if deferred:
            ready = [d for d in deferred if not staged.subtree_after(d[0].path, start)]
            if ready:
                deferred = [d for d in deferred if staged.subtree_after(d[0].path, start)]
                plans = sorted(plans + ready, key=lambda pl: encode_path(pl[0].path))
                due = [d[0].path for d in ready]
        # a waiting directory's versions are recorded with the chunk that applies it: recorded with its
        # own, a pull stopped in between would leave them known and never applied (the re-run takes
        # known versions as carried)
        waiting = {d[0].path for d in deferred}
        recorded = [*(path for path in chunk if path not in waiting), *due]
        applied = apply_plans(ctx, plans, staged, names, scan_start, result, forgotten, on_bytes, placing)
        failed += unplanned
        failed += applied.failed
        retry += applied.retry
        arrived += applied.arrived
        heads = [p.head for p, _ in plans if p.head is not None and p.path not in applied.failed] + applied.copies
        new = [v for path in recorded for v in by_path.get(path) or kept.get(path, []) if v.id in pending]
        held = (v.id.hex() for path in [*failed, *retry, *left_alone] for v in by_path.get(path) or kept.get(path, []))
        unapplied = sorted({*retried, *held})
        with db.write() as txn:
            db.add_unknown_versions(txn, new, make_head=False, records=records)  # has_version said unknown, above
            if applied.copies:  # their paths have no history here (_write_conflicts)
                db.add_unknown_versions(txn, applied.copies, make_head=False)
                db.add_pending(txn, ctx.share.config.queued_remotes(), [v.id for v in applied.copies])
            # relay: what arrived through this remote is queued for the others this device uses (a
            # device that never syncs again may be the only one that would have published it
            # there); pulling from those, before any push, drops what they carry already
            # (not the ones a batch forgets: the last transaction forgets them; queued now, a push
            # between a stopped pull and its re-run would publish them)
            relayed = [v.id for v in new if v.id not in forgotten_on_arrival]
            if others and relayed:
                db.add_pending(txn, others, relayed)
            db.set_heads(txn, heads)
            db.put_stats(txn, [(entry, None) for entry in applied.stat_updates.values() if entry is not None])
            for path, entry in applied.stat_updates.items():
                if entry is None:
                    db.drop_stat(txn, path)
            # (a pull stopped after this chunk knows these versions: the next one sees them as
            # carried, and retries the failed ones and those an earlier pull could not apply)
            db.set_meta(txn, UNAPPLIED, json.dumps(unapplied).encode())
            placed.difference_update(recorded)  # planned with the rule above, and recorded now
            db.set_meta(txn, PLACING, json.dumps(sorted(placed)).encode())
        # what is recorded is let go (later chunks look it up in the database), but for the
        # paths still to be retried or applied (failed, ignored, waiting directories)
        keep = {*applied.failed, *applied.retry, *unplanned, *waiting, *left_alone[-len(chunk) :]}
        for path in chunk:
            if path in keep:
                kept[path] = by_path[path]
        for path in recorded:
            if path not in keep:
                for v in kept.pop(path, None) or by_path[path]:
                    pending.pop(v.id, None)
        del plans, applied, heads, new, by_path
        records.clear()  # (the kept paths' versions are recorded from their own, by to_record)
        if m is not None:
            m.reach(planned_bytes)  # what was not written (ignored, kept) counts as dealt with
        db.remap()  # the pages this chunk read stay resident (RSS) while the map lives (RepoDB.remap)
        staged.remap()
    finish(m)
    assert not deferred, "every deferred directory's subtree ends in some chunk"
    if arrived:
        names = set(arrived)
        hits = {path for path in result.updated if path in names}  # (not a set of every path updated)
        result.conflicts += [name for name in arrived if name in hits and name not in result.conflicts]
    result.skipped += rules.notices  # .fogignore files and lines left out of the rules (each said once)
    for root, n in sorted(nested_news.items()):
        if root == ctx.share.fenced:
            result.skipped.append(f"{root}: {FOG_HOME_HERE} ({n} incoming path(s) {FOG_HOME_LEFT})")
        else:
            result.skipped.append(f"{root}: {NESTED_SHARE} ({n} incoming path(s) {NESTED_LEFT})")
    unapplied = sorted({v.id.hex() for path in [*failed, *retry, *left_alone] for v in kept.get(path, ())})
    with db.write() as txn:
        db.clear_pending(txn, ctx.remote_name, _ids(carried))  # this remote has them already
        if forgets:  # after the heads: this device's live heads among them stay until superseded
            done = db.forget_versions(txn, forgets)
            arrived_forgotten = sum(1 for v in done.removed if v.id in forgotten_on_arrival)  # recorded a moment
            result.versions -= arrived_forgotten
            result.forgotten += len(done.removed) - arrived_forgotten
            db.clear_pending_forgets(txn, ctx.remote_name, forgets)  # this remote has them already
            if others and done.new:  # relayed, as new versions are
                db.add_pending_forgets(txn, others, done.new)
        db.set_meta(txn, UNAPPLIED, json.dumps(unapplied).encode())
        db.drop_meta(txn, PLACING)  # (what is left arrived in no batch this time: the usual rules from now on)
        for inc in incoming:
            db.set_cursor(txn, ctx.remote_name, inc.log, inc.seq, inc.chain)
            ids = [inc.ids]  # (pushes.encode joins them: already joined)
            pushes.record(txn, db.db["batches"], inc.chain, ctx.remote_name, inc.seq, inc.device, inc.time_ns, ids)
        if rebuilt:
            db.drop_meta(txn, REBUILT)  # every file there was met once: from now on, the usual rules
        if cloning:
            db.drop_meta(txn, CLONING)  # the clone's pull is recorded: the tree is the share's
        ctx.commit_presence(txn)  # objects of packs whose headers were read: present there


def _ids(joined: bytearray) -> Iterator[bytes]:
    """The 32-byte ids of a run of them end to end."""
    for i in range(0, len(joined), 32):
        yield bytes(joined[i : i + 32])


def _bytes_to_write(entries: list[Entry]) -> int:
    """What the progress counts for a path: the size of its newest staged version, when a file."""
    newest = max(entries, key=lambda e: e.time_ns)
    return newest.size if newest.flags & FILE else 0


IGNORED_HERE = (
    "ignored here (.fogignore): recorded in the history, not written (`fog restore PATH` writes it; "
    "the first pull after the rule goes applies it)"
)


NESTED_HERE = "nested"  # plan_of: the path is, or lies in, a nested share
NESTED_LEFT = "left as they are there: recorded in the history, applied once it is no longer a share"
FOG_HOME_LEFT = "left as they are there: recorded in the history, never written while it is FOG_HOME"


def _ignored_here(rules: Ignore, path: str, head: Version | None, incoming: list[Version], local: LocalState) -> bool:
    """Whether the ignore rules leave `path` alone here (a directory by any of its versions or what is here).

    What is here is the entry itself, as the push's scan sees it (a symlink to a directory is a link).
    """
    is_dir = any(v.kind == "dir" for v in incoming) or (head is not None and head.kind == "dir")
    if path.rpartition("/")[2] == IGNORE_FILE and not is_dir and local.kind() in (None, "file"):
        return False  # the rules themselves are never ignored (fog.sync.scan)
    return rules.ignored(path, is_dir or local.kind() == "dir")


def _forgotten_head(plan: Plan, head: Version | None, forgotten: Callable[[bytes], bool]) -> bool:
    """Whether a plan must not be applied because the version it brings was forgotten (by another
    device, in a batch of this pull or before); drops the forgotten losers of its conflict copies.

    The merge plans with every incoming version, forgotten ones too, so that it
    sees their ancestry as a device that never read the forget does. Then a new
    head that is forgotten is not applied: a path new here whose whole history
    is forgotten is never written (a clone never sees it), and a file here is
    left as it is. Only a deletion still applies to a live file here: the path
    was deleted everywhere, and then forgotten.
    """
    plan.conflicts = [v for v in plan.conflicts if not forgotten(v.id)]
    new = plan.head
    if new is None or (head is not None and head.id == new.id) or not forgotten(new.id):
        return False
    return not (new.deleted and head is not None and not head.deleted)


PULL_CHUNK = 4096  # paths planned, applied and recorded together


def _arriving_elsewhere(
    db: RepoDB,
    staged: Staged,
    contents: list[bytes | None],
    head_after: Callable[[str, list[Entry], StatView], Version | None],
) -> int:
    """How many of the files that incoming deletions remove (their `contents`) arrive in this pull under
    another path (a directory renamed on another device: each file deleted at its old path arrives,
    byte for byte, at its new one).

    A file counts only where it stays: the path's head after this pull (`head_after`) is a file with
    that content, and was not one before. Not, then, an earlier version of a deleted file itself (a
    chmod or touch pushed before the `rm`: its path ends deleted), nor a moved copy deleted later in
    the same pull (`mv photos Photos`, then `rm -r Photos`): each ends nowhere, and the deletion is
    counted as one."""
    wanted = Counter(c for c in contents if c is not None)
    found = 0
    start: bytes | None = b""
    while start is not None and wanted:
        groups, start = staged.chunk(start, PULL_CHUNK)
        with db.stat_view() as stats:
            for path, entries in groups:
                if not any(
                    e.flags & NEW and e.flags & FILE and wanted.get(e.version().content or b"") for e in entries
                ):
                    continue
                head = head_after(path, entries, stats)
                c = head.content if head is not None and head.kind == "file" else None
                if c is None or not wanted.get(c):
                    continue
                before = db.head(path)
                if before is not None and before.kind == "file" and before.content == c:
                    continue  # (it was there already: nothing arrives)
                wanted[c] -= 1
                found += 1
        staged.remap()
    return found


def _deletes_file(local: LocalState) -> bool:
    return local.st is not None and not st.S_ISDIR(local.st.st_mode)


def stat_dir_raw(raw: bytes | None) -> bool:
    """Whether a stored stat entry (its bytes) is a directory's."""
    return raw is not None and st.S_ISDIR(stat_mode(raw))


def _clears_dir(plan: Plan, local: LocalState) -> bool:
    """Whether applying the plan removes a directory here (which needs its children gone first)."""
    v = plan.write
    return v is not None and v.kind != "dir" and local.st is not None and st.S_ISDIR(local.st.st_mode)


def _retry_unapplied(ctx: Context, staged: Staged) -> None:
    """Stage the versions an earlier pull could not apply (known here: none of them arrived again): they
    are planned again."""
    db = ctx.share.db
    for hex_id in json.loads(db.get_meta(UNAPPLIED) or b"[]"):
        v = db.version(bytes.fromhex(hex_id))
        if v is not None:
            staged.add(v, RETRIED, new=False)


RETRIED = 0xFFFFFFFF  # the log number of retried versions (staged.add)
