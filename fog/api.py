"""The library surface of fog: one function per operation, returning results.

No printing, no environment variables, no argv: callers pass FOG_HOME, the
share directory and options explicitly (STYLE.md).
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fog import cancel
from fog.backends.base import duplicates, kind_of, open_backend, store_key
from fog.backends.local import local_path
from fog.crypto.keys import ShareKeys, master_key_from_text, master_key_to_text, node_join_keypair
from fog.errors import (
    FogError,
    IdentityError,
    IntegrityError,
    MissingObject,
    NoHistoryError,
    NotAShareError,
    ReadOnlyRemote,
    Refused,
    RemoteError,
    RevisionError,
    UsageError,
    failure,
    none_left,
)
from fog.format import names as naming
from fog.format.policy import Policy, share_policy
from fog.format.syncconfig import SyncConfig
from fog.format.version import Version, in_fog_dir
from fog.lazy import lazy_module
from fog.memory import pin_mmap_threshold
from fog.repo import checkouts, vault
from fog.repo.identity import Identity
from fog.repo.share import (
    CLONING,
    FOG_DIR,
    Share,
    clear_unfinished_start,
    find_root,
    home_below,
    refuse_home_inside,
    refuse_nesting,
)
from fog.repo.vault import write_private
from fog.store import MARKER_NAME, PutStats, Remote, ShareStore
from fog.sync import enrol, keyring, members, nodes
from fog.sync import push as push_mod
from fog.sync.content import stream_version
from fog.sync.context import UNDELIVERED, Context, Unavailable, open_context, other_devices, trim_archive
from fog.sync.forgotten import explain_missing
from fog.sync.guard import DeleteLimit
from fog.sync.keyring import RotationResult
from fog.sync.meter import offset
from fog.sync.sealers import Sealers

if TYPE_CHECKING:
    from fog.repo import revs
    from fog.sync import check as check_mod
    from fog.sync import devices as devices_mod
    from fog.sync import forget as forget_mod
    from fog.sync import inspect as inspect_mod
    from fog.sync import prune as prune_mod
    from fog.sync import pull as pull_mod
    from fog.sync import remotes as remotes_mod
    from fog.sync import restore as restore_mod
    from fog.sync import stats as stats_mod
else:  # imported on first use: a push or status needs none of them (~35 ms of every run)
    revs = lazy_module("fog.repo.revs")
    check_mod = lazy_module("fog.sync.check")
    devices_mod = lazy_module("fog.sync.devices")
    forget_mod = lazy_module("fog.sync.forget")
    inspect_mod = lazy_module("fog.sync.inspect")
    prune_mod = lazy_module("fog.sync.prune")
    pull_mod = lazy_module("fog.sync.pull")
    remotes_mod = lazy_module("fog.sync.remotes")
    restore_mod = lazy_module("fog.sync.restore")
    stats_mod = lazy_module("fog.sync.stats")

pin_mmap_threshold()  # fog.api is loaded only by commands that do real work (see fog.memory)

Progress = Callable[[int, int], None]


@dataclass
class InitResult:
    root: str
    share_id: str
    name: str
    remote: str
    device: str
    new_identity: bool
    master_key_text: str | None  # set only when a new key must be shown to the user
    master_key_file: str | None


def init(
    home: Path,
    directory: Path,
    remote_url: str,
    *,
    name: str | None = None,
    master_key_file: Path | None = None,
    device_name: str | None = None,
) -> InitResult:
    """Create a share in `directory` backed by `remote_url` (and an identity if none)."""
    root = directory.absolute()
    if device_name is not None:
        naming.check_name("device name", device_name)
    if name is not None:
        naming.check_name("share name", name, path_safe=True)
    if (root / FOG_DIR / "config.json").exists():
        raise FogError(f"{root} is already a fog share")
    refuse_home_inside(root, home)
    clear_unfinished_start(root)  # an init or clone stopped before config.json: this one starts again
    refuse_nesting(root)
    new_identity = not Identity.exists(home)
    share_name = name or root.name or "share"
    # an init stopped after it published the share but before the checkout: this one finishes it
    ghost = None if new_identity else _stopped_init(home, Identity.load(home).cached_config(), share_name, remote_url)
    # the same init again after one stopped midway: F holds this identity's key already (written first),
    # or the identity it made never finished a command (no checkout at all): F is written now
    again = master_key_file is not None and not new_identity and _holds_master_key(master_key_file, home)
    unfinished = not new_identity and not (home / checkouts.FILE).exists()
    if master_key_file is not None and (new_identity or ghost or unfinished) and master_key_file.exists() and not again:
        raise FogError(f"{master_key_file} exists; refusing to overwrite it (choose a new file)")
    if master_key_file is not None and (new_identity or ghost or unfinished):
        _refuse_key_in_share(master_key_file, root, remote_url)
        _probe_key_file(master_key_file, "nothing was made")  # before the identity, the share, the checkout
    if device_name is not None and not new_identity and device_name != Identity.load(home).device_name:
        raise UsageError(
            f"--device-name only applies when init creates a new identity; this device is already named "
            f"'{naming.shown(Identity.load(home).device_name)}' (`fog device rename` changes it)"
        )
    if master_key_file is not None and not new_identity and not ghost and not again and not unfinished:
        raise UsageError(f"--master-key-file only applies when init creates a new identity; {home} already has one")
    remotes_mod.refuse_inside(remote_url, root)
    backend = open_backend(remote_url, create=True)
    if not new_identity and not ghost:  # (checked again below, against the remote's SyncConfig)
        _refuse_taken_share_name(Identity.load(home).cached_config(), share_name, home, root, remote_url)
    made = _make_directory(root)
    try:
        remote = Remote(backend)
        remote.initialize()
        ident = Identity.load(home) if not new_identity else Identity.create(home, name=device_name)
        if master_key_file is not None:  # first: an init stopped later on still leaves the key's backup
            write_private(master_key_file, (master_key_to_text(ident.master_key) + "\n").encode())
        config = _merged_config(ident, remote)
        ghost = _stopped_init(home, config, share_name, remote_url, remote)
        if ghost is not None:
            sid = ghost
        else:
            try:
                _refuse_taken_share_name(config, share_name, home, root, remote_url)
            except UsageError:
                _unmake(made)
                raise
            sid = _new_share(ident, remote, config, share_name, remote_url, home, root)
        Share.create(root, sid, share_name, remote_url).close()
        checkouts.claim(home, sid, root)  # now, not at its first use: a clone here is refused
        checkouts.init_finished(home, sid)
    finally:
        backend.close()
    text = master_key_to_text(ident.master_key)
    return InitResult(
        str(root),
        sid,
        share_name,
        remote_url,
        ident.device_name,
        new_identity,
        # (the master key again when an init that made the identity was stopped before it showed it)
        text if (new_identity or ghost) and master_key_file is None else None,
        str(master_key_file) if master_key_file else None,
    )


def _stopped_init(
    home: Path, config: SyncConfig | None, name: str, url: str, remote: Remote | None = None
) -> str | None:
    """The id of this user's share called `name` on `url` that an init on this device stopped before its
    checkout left behind: this device recorded that it was making it (checkouts.init_started), none of its
    checkouts holds it, and (`remote` given) nothing was ever pushed to it. Another device's new share of
    that name, not pushed to yet, is not one: that name is taken."""
    for sid, entry in config.shares.items() if config is not None else ():
        if entry.get("removed") or entry.get("name") != name:
            continue
        if not checkouts.init_stopped_here(home, sid):
            continue
        origin = (entry.get("remotes") or {}).get("origin") or {}
        if not isinstance(origin, dict) or origin.get("url") != url or origin.get("removed"):
            continue
        if checkouts.existing(home, sid) is not None:
            continue
        if remote is not None:
            try:
                keys = ShareKeys.from_json(sid, entry)
            except (ValueError, KeyError, TypeError):
                continue
            if remote.share(keys).list_logs():
                continue  # pushed to from somewhere: a share in use, not the debris of an init
        return sid
    return None


def _new_share(
    ident: Identity, remote: Remote, config: SyncConfig, share_name: str, remote_url: str, home: Path, root: Path
) -> str:
    """Publish a new share in the SyncConfig (and cache it), recorded first as this device's init in `root`;
    its id."""
    keys = ShareKeys.generate()
    checkouts.init_started(home, keys.share_id.hex(), root)
    now = time.time_ns()
    shares = dict(config.shares)
    shares[keys.share_id.hex()] = {
        "name": share_name,
        **keys.to_json(),
        "created": now,
        "updated": now,
        "removed": 0,
    }
    config = config.with_(shares=shares)
    kind = kind_of(remote_url)
    config = remotes_mod.with_remote(config, keys.share_id.hex(), "origin", {"url": remote_url, "kind": kind})
    remote.put_config(ident, config)
    ident.cache_config(config)
    return keys.share_id.hex()


def _merged_config(ident: Identity, remote: Remote) -> SyncConfig:
    """This device's view of the SyncConfig merged with the remote's, device included."""
    found, _ = keyring.load_config(remote, ident)
    return enrol.merged_config(ident, found)


# -- opening a share -------------------------------------------------------------


@contextmanager
def open_share(home: Path, cwd: Path, *, lock: bool = True, wait: bool = False) -> Iterator[tuple[Share, Identity]]:
    """The share containing `cwd`, locked, with this device's identity.

    A new operation starts here: an earlier cancellation request is forgotten (fog.cancel).
    """
    cancel.clear()
    root = find_root(cwd)
    fenced = home_below(root, home)
    if fenced == "":
        raise UsageError(
            f"the share {root} is FOG_HOME itself ({home}), this device's keys, which a share must never sync: "
            "move FOG_HOME to a directory outside the share and set FOG_HOME to it"
        )
    ident = Identity.load(home)
    share = Share(root, lock=lock, wait=wait)
    share.fenced = fenced  # (a share made before init refused it, or FOG_HOME moved in later)
    try:
        checkouts.claim(home, share.config.share_id, share.root)
        yield share, ident
    finally:
        share.close()


@contextmanager
def context(
    home: Path, cwd: Path, *, remote: str | None = None, wait: bool = False, offline_ok: bool = False
) -> Iterator[Context]:
    with open_share(home, cwd, wait=wait) as (share, ident):
        if offline_ok and remote is None:
            ctx = open_reading(share, ident)
        else:
            ctx = open_context(share, ident, remote, offline_ok=offline_ok)
        try:
            yield ctx
        finally:
            ctx.close()


def open_reading(share: Share, ident: Identity) -> Context:
    """A context to read versions from (restore, cat, diff, a mount): the default remote, else the first
    of the others this device uses that opens (every remote holds every version: one that is down stops
    no recovery while another is up). When none opens, the default's stands in offline (the local archive
    may serve) and a read from it fails naming every remote."""
    ctx = open_context(share, ident, None, offline_ok=True)
    down = ctx.remote.backend
    if not isinstance(down, Unavailable):
        return ctx
    failed = {ctx.remote_name: str(down.error)}
    try:
        found = _open_each(share, ident, failed, first=True)
    except BaseException:
        ctx.close()
        raise
    if found:
        ctx.close()
        return found[0]
    if len(failed) > 1:
        down.error = RemoteError("no remote of this share can be reached: " + "; ".join(failed.values()))
    return ctx


@contextmanager
def all_contexts(
    home: Path, cwd: Path, *, remote: str | None = None, wait: bool = False
) -> Iterator[tuple[list[Context], dict[str, str]]]:
    """Contexts for the named remote, or for every remote of the share.

    Remotes that cannot be opened are returned as {name: error}; if none can,
    the first error is raised.
    """
    with open_share(home, cwd, wait=wait) as (share, ident), remote_contexts(share, ident, remote) as found:
        yield found


@contextmanager
def remote_contexts(
    share: Share, ident: Identity, remote: str | None = None
) -> Iterator[tuple[list[Context], dict[str, str]]]:
    """all_contexts for a share already open (a push forks its workers in between: fog.sync.sealers)."""
    if remote is not None:
        names = [share.remote_url(remote)[0]]
    else:  # one store under two names would get one log under two cursors: the first name only
        dups = duplicates(share.config.remotes)
        names = [n for n in sorted(share.config.remotes) if n not in dups]
    ctxs: list[Context] = []
    failed: dict[str, str] = {}
    first: FogError | None = None
    try:
        for name in names:
            try:
                ctxs.append(open_context(share, ident, name))
            except (RemoteError, IntegrityError) as exc:  # refused data (exit 4) drops that remote as well
                failed[name] = failure(exc)
                if first is None or (isinstance(exc, IntegrityError) and not isinstance(first, IntegrityError)):
                    first = exc  # (with none left, refused data is the most serious)
        if not ctxs:
            if first is None:
                raise FogError("this device uses no remote of this share: see `fog remote list`, `fog remote unskip`")
            raise first
        yield ctxs, failed
    finally:
        for ctx in ctxs:
            ctx.close()


def _refuse_empty(arg: str) -> None:
    """An empty PATH argument (`"$VAR"` unset) is refused, not taken as the current directory."""
    if not arg:
        raise UsageError("'' (an empty argument) names no path: give a file or directory in the share")


def share_path(share: Share, cwd: Path, arg: str) -> str:
    """A user-given path (relative to cwd) as a '/'-separated share path (of a file or directory below the
    share's root: callers that take the root too ask `_scope`)."""
    _refuse_empty(arg)
    text = _below_root(share, cwd, arg)
    if text is None:
        raise UsageError(f"{arg} is outside the share {share.root}")
    if text in ("", "."):  # (as `fog cat DIR` says of a directory, exit 1)
        raise FogError(f"{arg} is the share's root, a directory, not a file")
    if in_fog_dir(text):
        what = "the current directory" if os.path.normpath(arg) == "." else arg
        raise UsageError(f"{what} is in a {FOG_DIR} directory: nothing there is synced, so it has no history")
    return text


def _below_root(share: Share, cwd: Path, arg: str) -> str | None:
    """`arg` (relative to cwd) as a '/'-separated path below the share's root ("." for the root); None when
    outside. As spelled first (what it always was, a symlinked directory in the share on the way included);
    else with its directories resolved, against the resolved root: a share reached through a symlinked
    directory (~/notes -> /data/notes) holds its paths under either spelling, whichever one `-C` or the
    shell gave. Its last name is not resolved: a symlink in the share is named, not followed."""
    full = os.path.normpath(os.path.join(cwd.absolute(), arg))
    try:
        return Path(full).relative_to(share.root).as_posix()
    except ValueError:
        pass
    head, name = os.path.split(full)
    real = os.path.join(os.path.realpath(head), name)
    root = os.path.realpath(share.root)
    if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(real, root)).as_posix()
    if os.path.realpath(full) == root:  # the root itself, named by a symlink to it from outside (~/notes)
        return "."
    return None


# -- status, push ------------------------------------------------------------------


@dataclass
class StatusResult:
    root: str
    added: list[str]
    modified: list[str]
    deleted: list[str]
    skipped: list[str]
    conflicts: list[str]  # conflict copies still in the tree
    unread: list[str] = field(default_factory=list)  # could not be read: not kept (a push exits 5)
    ignored: list[str] = field(default_factory=list)  # left out by ignore rules (directories as `DIR/`)
    # paths a pull could not write here (the next pull tries again): the tree lacks their newest version
    unapplied: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Everything in the tree is kept as it is: nothing to push, nothing fog cannot read."""
        return not (self.added or self.modified or self.deleted or self.unread)


def status(home: Path, cwd: Path, *, wait: bool = False) -> StatusResult:
    """What changed since the last push (contents of stat-changed files are hashed)."""
    with open_share(home, cwd, wait=wait) as (share, ident):
        unfinished_clone(share)
        if ident.cached_config() is None:
            _fetch_config(share, ident)
        keys = ident.share_keys(share.config.share_id)
        result = push_mod.PushResult("", True)
        # (another user's file, as a pull wrote it without setuid and setgid, is unchanged: as a push sees it)
        others = other_devices(share)
        changes = push_mod.plan(
            keys, None, share.root, share.db, ident.device_id, PutStats(), result, others=others, fenced=share.fenced
        )
        push_mod.refresh_index(share.db, changes)  # (racy entries re-hashed now are not re-hashed again)
        out = StatusResult(
            str(share.root), [], [], [], result.skipped, result.conflict_copies, result.unread, result.ignored
        )
        for c in changes:
            if c.version is not None:
                {"added": out.added, "modified": out.modified, "deleted": out.deleted}[c.status].append(c.path)
        out.unapplied = _unapplied(share)
        return out


def _unapplied(share: Share) -> list[str]:
    """The paths whose incoming versions a pull could not write here (pull.UNAPPLIED), but those left alone
    on purpose (ignored here, inside a nested share or FOG_HOME)."""
    ids = json.loads(share.db.get_meta(pull_mod.UNAPPLIED) or b"[]")
    if not ids:
        return []
    from fog.sync.ignore import Ignore
    from fog.sync.scan import is_nested_share, iter_parents

    rules = Ignore(str(share.root))
    paths = {v.path for i in ids if (v := share.db.version(bytes.fromhex(i))) is not None}
    return [
        p
        for p in sorted(paths)
        if not rules.ignored(p, False)
        and p != share.fenced
        and not any(is_nested_share(os.path.join(share.top, q)) or q == share.fenced for q in iter_parents(p))
    ]


def _fetch_config(share: Share, ident: Identity) -> None:
    """The cached SyncConfig was deleted (README: it is a cache): fetch it from the share's remote, as
    opening a pull or push does."""
    try:
        open_context(share, ident).close()
    except (RemoteError, IdentityError) as exc:
        raise IdentityError(
            f"{ident.home / 'syncconfig.json'} (the cache of your fog settings) is missing and could not be "
            f"fetched ({exc}): run `fog pull` when the remote is reachable"
        ) from None


def push(
    home: Path,
    cwd: Path,
    *,
    remote: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    progress: Progress | None = None,
    max_delete: str | None = None,
) -> push_mod.PushResult:
    with (
        open_share(home, cwd, wait=wait) as (share, ident),
        push_workers(share, ident, not dry_run) as workers,
        remote_contexts(share, ident, remote) as (ctxs, failed),
        spare_readers(share, ident, remote) as readers,
    ):
        unfinished_clone(ctxs[0].share)
        limit = DeleteLimit.parse(max_delete)
        live = follow_rotation(ctxs, spread=not dry_run, failed=failed)
        done = push_mod.push(
            live, dry_run=dry_run, progress=progress, failed=failed, max_delete=limit, sealers=workers, readers=readers
        )
        if not dry_run:
            _deliver(share, ident)
        return done


def _deliver(share: Share, ident: Identity) -> None:
    """After a push, pull or sync: a `remote remove` or `set-url` that could not reach the old URL puts the
    change there now if it can (fog.sync.remotes.deliver_config; one meta read when nothing waits)."""
    if share.db.get_meta(UNDELIVERED) is not None:
        remotes_mod.deliver_config(share, ident)


@contextmanager
def spare_readers(share: Share, ident: Identity, remote: str | None) -> Iterator[push_mod.Readers | None]:
    """For a push to one named remote: the share's other remotes this device uses, opened on first use and
    only read from, to catch the named one up (a remote just added gets what only origin holds). None for
    a push to every remote (those that did not open are down or refused: nothing to read there)."""
    if remote is None:
        yield None
        return
    opened: list[Context] | None = None
    named, url = share.remote_url(remote)
    target = store_key(url)

    def readers() -> list[ShareStore]:
        nonlocal opened
        if opened is None:
            opened = []
            dups = duplicates(share.config.remotes)
            for name, other in sorted(share.config.remotes.items()):
                if name == named or name in dups or store_key(other) == target:
                    continue
                try:
                    opened.append(open_context(share, ident, name))
                except (RemoteError, IntegrityError):
                    continue  # (a source the catch-up does without: what it lacks stays queued, and is said)
        return [c.store for c in opened]

    try:
        yield readers
    finally:
        for ctx in opened or []:
            ctx.close()


@contextmanager
def push_workers(share: Share, ident: Identity, wanted: bool = True) -> Iterator[Sealers | None]:
    """Worker processes for a push of many small files, forked before any remote opens a thread.

    None when forking is not safe (another thread runs: fog.forking) or this
    device holds no keys yet; the push then reads everything in-process.
    """
    workers = None
    if wanted and ident.cached_config() is not None:
        try:
            workers = Sealers.start(ident.share_keys(share.config.share_id))
        except IdentityError:
            pass
    if workers is None:
        yield None
        return
    with workers:
        yield workers


def follow_rotation(ctxs: list[Context], *, spread: bool = True, failed: dict[str, str] | None = None) -> list[Context]:
    """Read the SyncConfig before writing anything: a key rotation made elsewhere is followed (new data
    must be sealed with the newest epoch's keys), and a revoked device is told (exit 6). One LIST.
    With `spread`, a remote whose SyncConfig missed part of this device's copy gets it (not a dry run).

    Returns the contexts to push to: a remote whose SyncConfig is refused (IntegrityError) is left out
    and named in `failed` (exit 4), so that one bad store does not stop the push to the others."""
    live: list[Context] = []
    for ctx in ctxs:  # each remote: a store could show the rotation record on one and withhold it on another
        try:
            keyring.refresh_config(ctx, spread=spread)
            live.append(ctx)
        except IntegrityError as exc:
            if failed is None:
                raise
            failed[ctx.remote_name] = failure(exc)
    if not live:
        raise none_left(failed or {})
    ctxs = live
    config = ctxs[0].ident.cached_config() or keyring.refresh_config(ctxs[0])
    live = []
    for ctx in ctxs:
        ctx.rekey(config)
        roster = members.load(ctx, config)
        try:
            config = members.keep_current(ctx, config, roster, pushing=True)  # (a member's role as it is now)
        except IntegrityError as exc:  # (member statements seen before are gone from that remote)
            if failed is None:
                raise
            failed[ctx.remote_name] = failure(exc)
            continue
        ctx.others = members.other_ids(ctx, roster)
        live.append(ctx)
    if not live:
        raise none_left(failed or {})
    refuse_read_only(config, live[0].keys.share_id.hex())
    return live


def read_only(config: SyncConfig | None, share_hex: str) -> bool:
    """This user holds the share read-only (an owner's invitation said so)."""
    entry = config.shares.get(share_hex, {}) if config is not None else {}
    return bool(entry.get("read_only"))


def refuse_read_only(config: SyncConfig | None, share_hex: str, what: str = "your changes stay here, unpushed") -> None:
    """FogError when this user holds the share read-only (push, forget: nothing of theirs is published)."""
    if read_only(config, share_hex):
        entry = config.shares.get(share_hex, {}) if config is not None else {}
        owner = (entry.get("owner") or {}).get("name", "its owner")
        raise FogError(f"this share was shared with you read-only (by {owner}): {what}")


def _nothing_to_push(ctxs: list[Context], failed: dict[str, str]) -> push_mod.PushResult:
    """The push half of a read-only member's sync: refused as `push` is when the tree has changes (after the
    pull), else an empty result (a cron job's sync succeeds). The tree is scanned as `status` does."""
    share, ident = ctxs[0].share, ctxs[0].ident
    result = push_mod.PushResult(",".join(c.remote_name for c in ctxs), False, remote_errors=dict(failed))
    changes = push_mod.plan(
        ctxs[0].keys,
        None,
        share.root,
        share.db,
        ident.device_id,
        PutStats(),
        result,
        others=ctxs[0].others,
        fenced=share.fenced,
    )
    push_mod.refresh_index(share.db, changes)
    if any(c.version is not None for c in changes) or any(share.db.pending(c.remote_name) for c in ctxs):
        refuse_read_only(ident.cached_config(), share.config.share_id)
    return result


# -- history --------------------------------------------------------------------------


@dataclass
class LogEntry:
    version: Version
    device_name: str
    current: bool = False  # the newest known version of its path


def device_names(ident: Identity, share: Share | None = None) -> dict[str, str]:
    """Device id -> name: this user's devices, and (in a shared share) every member's, as `name (user)`."""
    config = ident.cached_config()
    names: dict[str, str] = {}
    if share is not None:
        try:
            names = {str(k): str(v) for k, v in json.loads(share.db.get_meta(members.MEMBER_NAMES) or b"{}").items()}
        except (ValueError, AttributeError):
            names = {}
    return {**names, **{did: d.get("name", did[:8]) for did, d in (config.devices.items() if config else [])}}


@dataclass(frozen=True)
class LogFilter:
    """Which versions `log` shows: newest first, at most `limit`."""

    limit: int | None = None
    since_ns: int | None = None  # only versions recorded at or after
    until_ns: int | None = None  # only versions recorded at or before
    device: str | None = None  # only versions made by this device (name or id prefix)

    def keep(self, v: Version, device_name: str) -> bool:
        if self.since_ns is not None and v.time_ns < self.since_ns:
            return False
        if self.until_ns is not None and v.time_ns > self.until_ns:
            return False
        return self.device is None or self.device in (device_name, v.device) or v.device.startswith(self.device)


def log(
    home: Path, cwd: Path, path: str | None = None, *, limit: int | None = None, filt: LogFilter | None = None
) -> list[LogEntry]:
    """Versions newest first: of one path (a directory: everything below it), or of every path."""
    filt = filt or LogFilter(limit=limit)
    with open_share(home, cwd, lock=False) as (share, ident):
        names = device_names(ident, share)
        if path is not None:
            rel = share_path(share, cwd, path)
            versions: Iterable[Version] = share.db.path_history(rel)
            if not versions or any(v.kind == "dir" for v in versions):  # a directory: everything below it too
                below = [v for v in share.db.all_versions() if v.path.startswith(rel + "/")]
                versions = sorted([*versions, *below], key=lambda v: (v.time_ns, v.id), reverse=True)
            if not versions:
                raise NoHistoryError(path)
        else:
            versions = share.db.recent()
        out: list[LogEntry] = []
        for v in versions:
            if filt.limit is not None and len(out) >= filt.limit:
                break
            name = names.get(v.device, v.device[:8])
            if filt.keep(v, name):
                head = share.db.head(v.path)
                out.append(LogEntry(v, name, head is not None and head.id == v.id))
        return out


def forget(
    home: Path,
    cwd: Path,
    paths: list[str] | None = None,
    *,
    policy: Policy | None = None,
    dry_run: bool = False,
    wait: bool = False,
    now_ns: int | None = None,
    listing: bool = True,
) -> forget_mod.ForgetResult:
    """Forget the versions a retention policy does not keep, on every device (fog.sync.forget).

    `paths` (relative to cwd; a directory: everything below it) limits it to
    those paths. `policy`: the one given on the command line; None takes the
    share's, as the SyncConfig this device last read has it, else the default.
    Under `dry_run` nothing changes and no remote is contacted. A remote that
    cannot be reached keeps the forgets queued (`remote_errors`).
    """
    with open_share(home, cwd, wait=wait) as (share, ident):
        scopes = None if not paths else [_scope(share, cwd, p) for p in paths]
        return _forget_in(share, ident, scopes, policy, dry_run=dry_run, now_ns=now_ns, listing=listing)


def _forget_in(
    share: Share,
    ident: Identity,
    scopes: list[str] | None,
    policy: Policy | None,
    *,
    dry_run: bool = False,
    now_ns: int | None = None,
    ctxs: list[Context] | None = None,
    listing: bool = True,
) -> forget_mod.ForgetResult:
    """`forget` on an open share; publishes through `ctxs` when given (else opens every remote)."""
    t0 = time.monotonic()
    source = "options"
    if policy is None:
        config = ident.cached_config()
        policy, stored = _policy_of(config.shares.get(share.config.share_id, {}) if config is not None else {})
        source = "share" if stored else "default"
    result = forget_mod.ForgetResult(dry_run, source)
    chosen = forget_mod.choose(share.db, scopes, policy, time.time_ns() if now_ns is None else now_ns)
    forget_mod.describe(chosen, device_names(ident, share), result, listing=listing)
    waiting = any(share.db.pending_forgets(name) for name in share.config.queued_remotes())
    if dry_run or not chosen and not waiting:  # (forgets an earlier run left queued are published again)
        result.seconds = time.monotonic() - t0
        return result
    if chosen:
        refuse_read_only(ident.cached_config(), share.config.share_id, "it keeps its history as its owner says")
        forget_mod.record(share, [v for _, v in chosen])
    opened = ctxs is None
    targets = _open_each(share, ident, result.remote_errors) if ctxs is None else ctxs
    try:
        forget_mod.publish_all(targets, result)
    finally:
        if opened:
            for ctx in targets:
                ctx.close()
    result.seconds = time.monotonic() - t0
    return result


def _scope(share: Share, cwd: Path, arg: str) -> str:
    """A PATH given to forget as a share path; "" for the share's root (everything)."""
    _refuse_empty(arg)
    if _below_root(share, cwd, arg) == ".":
        return ""
    return share_path(share, cwd, arg)


def _open_each(share: Share, ident: Identity, failed: dict[str, str], *, first: bool = False) -> list[Context]:
    """A context for every remote of the share this device uses that opens (`first`: only the first that
    opens, of those not in `failed` already); the others in `failed`."""
    dups = duplicates(share.config.remotes)  # one store under two names: the first name only (all_contexts)
    ctxs: list[Context] = []
    try:
        for name in [n for n in sorted(share.config.remotes) if n not in dups and n not in failed]:
            if first and ctxs:
                break
            try:
                ctxs.append(open_context(share, ident, name))
            except (RemoteError, IntegrityError) as exc:  # refused data: reported (exit 4), the others go on
                failed[name] = failure(exc)
    except BaseException:
        for ctx in ctxs:
            ctx.close()
        raise
    return ctxs


def resolve_version(share: Share, cwd: Path, spec: str, names: dict[str, str] | None = None) -> Version:
    path, rev = revs.split_spec(spec)
    rel = share_path(share, cwd, (path or ".") if rev is not None else path)  # (@REV: the current directory)
    history = share.db.path_history(rel)
    if not history and rev is not None:
        whole = share_path(share, cwd, spec)
        history = share.db.path_history(whole)
        if history:
            rel, rev = whole, None
    if rev is not None and rev.startswith("push:"):  # a moment named by a push (fog.repo.trees)
        from fog.repo import trees

        moment = trees.resolve_moment(share.db, rel, rev, names or {})
        history = [v for v in history if moment.when_ns is None or v.time_ns <= moment.when_ns]
        if not history:
            raise RevisionError(f"{rel}@{spec.rsplit('@', 1)[1]}: the path had no version yet then")
        return history[0]
    return revs.resolve(history, rel, rev)


def restore(
    home: Path,
    cwd: Path,
    spec: str,
    *,
    output: str | None = None,
    force: bool = False,
    wait: bool = False,
    stdout: Callable[[bytes], object] | None = None,
    progress: Progress | None = None,
) -> restore_mod.RestoreResult:
    """Restore one version of a path (PATH@REV); `progress(done, total)`: its bytes written, block by block."""
    with context(home, cwd, wait=wait, offline_ok=True) as ctx:
        v = resolve_version(ctx.share, cwd, spec, device_names(ctx.ident, ctx.share))
        fenced = ctx.share.fenced
        if output is None and fenced is not None and (v.path == fenced or v.path.startswith(fenced + "/")):
            raise UsageError(
                f"{v.path} is in this device's FOG_HOME ({fenced}), its keys: never restored in place "
                "(restore it elsewhere with -o FILE)"
            )
        out = output
        if output not in (None, "-"):
            out = str(Path(os.path.normpath(cwd.absolute() / output)))  # type: ignore[operator]
        with _forgotten_explained(ctx, v):
            return restore_mod.restore(ctx, v, output=out, force=force, stdout=stdout, progress=progress)


@contextmanager
def _forgotten_explained(ctx: Context, *versions: Version) -> Iterator[None]:
    """A missing object of a version another device forgot (and pruned) since this device last pulled
    says so (exit 1), not "refused data" (exit 4): the remote's unread batches are read to tell."""
    try:
        yield
    except MissingObject as exc:
        why = explain_missing(ctx, [(v.path, v.id) for v in versions])
        if why is None:
            raise
        raise why from exc


def check(
    home: Path,
    cwd: Path,
    *,
    read_data: bool = False,
    subset: str | None = None,
    repair: bool = False,
    remote: str | None = None,
    wait: bool = False,
    progress: Progress | None = None,
) -> check_mod.CheckResult:
    """Verify a remote; with `repair`, put back what it lacks from the other remotes or the tree.

    `repair` reads every pack (as `read_data`) unless `subset` names part of them: only a read finds
    a corrupt object, and "no problems" from a repair that read nothing would be false."""
    chosen = check_mod.parse_subset(subset)
    read_data = read_data or (repair and chosen is None)
    with context(home, cwd, remote=remote, wait=wait) as ctx:
        result = check_mod.check(ctx, read_data=read_data, subset=chosen, progress=progress)
        if repair and result.damaged:
            result = _repair(ctx, result, lambda: check_mod.check(ctx, read_data=read_data, subset=chosen))
        return result


def stats(home: Path, cwd: Path, *, remote: str | None = None, wait: bool = False) -> stats_mod.StatsResult:
    """What each remote (or the named one) stores, and how much of it this device's history references.

    Read-only on every remote. A remote that cannot be reached is in `failed`;
    if none can, its error is raised. A revoked device (or a removed member) is told, exit 6, as by
    every command that touches a remote: the user's settings are read first, from the first remote
    that answers."""
    with all_contexts(home, cwd, remote=remote, wait=wait) as (ctxs, failed):
        for ctx in ctxs:
            try:
                keyring.refresh_config(ctx)  # (RevokedError: exit 6)
                break
            except (RemoteError, IntegrityError):
                continue  # (that remote's figures say what is wrong with it; `fog check` says more)
        db = ctxs[0].share.db
        result = stats_mod.share_stats({c.remote_name: c.store for c in ctxs}, db.all_versions(), db.heads())
        result.failed = {**failed, **result.failed}
        for r in result.remotes:
            r.waiting_versions = len(db.pending(r.remote))
        return result


@dataclass
class PruneReport:
    remotes: list[prune_mod.PruneResult] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # remotes that could not be reached or failed
    refused: dict[str, str] = field(default_factory=dict)  # remotes left alone: what they reference is unknown
    skipped: dict[str, str] = field(default_factory=dict)  # `sync --prune`: remotes not meant to be pruned (why)


def prune(
    home: Path,
    cwd: Path,
    *,
    remote: str | None = None,
    dry_run: bool = False,
    grace_s: int | None = None,
    max_unused: float | None = None,
    wait: bool = False,
    progress: Progress | None = None,
) -> PruneReport:
    """Delete what no remaining version references on each remote (or the named one), in two phases.

    Each run finishes the intents that every device has acknowledged and
    whose grace period has passed, then announces the next deletions
    (docs/FORMAT.md, section 14). With dry_run nothing is written anywhere.
    `progress(done, total)`: bytes repacked, one bar over every remote."""
    report = PruneReport()
    grace = prune_mod.DEFAULT_GRACE_S if grace_s is None else grace_s
    unused = prune_mod.DEFAULT_MAX_UNUSED if max_unused is None else max_unused
    with all_contexts(home, cwd, remote=remote, wait=wait) as (ctxs, failed):
        report.failed.update(failed)
        step, next_run = offset(progress)
        for ctx in ctxs:
            next_run()
            _prune_one(ctx, ctxs, report, dry_run=dry_run, grace=grace, unused=unused, progress=step)
    return report


def _prune_one(
    ctx: Context,
    ctxs: list[Context],
    report: PruneReport,
    *,
    dry_run: bool,
    grace: int,
    unused: float,
    progress: Progress | None = None,
) -> None:
    """Prune one remote (the others are sources of manifest nodes); its outcome goes into `report`."""
    try:
        config = pull_mod.refresh_config(ctx)
        result = prune_mod.prune(
            ctx, config, [c.store for c in ctxs], dry_run=dry_run, grace_s=grace, max_unused=unused, progress=progress
        )
    except prune_mod.PruneRefused as exc:
        report.refused[ctx.remote_name] = str(exc)
        return
    except RemoteError as exc:
        if str(exc).endswith(prune_mod.APPEND_ONLY_NODE):  # (a node restarted without --allow-prune meanwhile)
            report.refused[ctx.remote_name] = prune_mod.APPEND_ONLY
        else:
            report.failed[ctx.remote_name] = failure(exc)  # (refused data, e.g. a symlinked directory: exit 4)
        return
    report.remotes.append(result)


def _repair(
    ctx: Context, result: check_mod.CheckResult, again: Callable[[], check_mod.CheckResult]
) -> check_mod.CheckResult:
    """Repair from the other remotes, check again (a lost manifest node hid its subtree), repeat.

    Each round goes one tree level deeper at least; the last check is what is reported."""
    from fog.sync.repair import repair as repair_remote

    others: list[Context] = []
    repaired: dict[str, int] = {}
    try:
        for name in sorted(set(ctx.share.config.remotes) - {ctx.remote_name}):
            try:
                others.append(open_context(ctx.share, ctx.ident, name))
            except RemoteError:
                continue  # an unreachable remote is simply not a source
        tried: set[bytes] = set()
        for _ in range(17):  # trees are at most 16 levels deep
            result.damaged -= tried  # an object is put back once: if it still fails, that is reported
            tried |= result.damaged
            try:
                repair_remote(ctx, others, result)
            except ReadOnlyRemote as exc:  # what check found is still the report; nothing could be put back
                result.notes.append(f"nothing repaired: {exc}")
                result.unrepaired = [f"object {o.hex()[:16]} of {result.paths.get(o, '?')}" for o in result.damaged]
                break
            for source, n in result.repaired_from.items():
                repaired[source] = repaired.get(source, 0) + n
            if not result.repaired:  # nothing more to gain (what is left is reported)
                break
            result = again()
            if not result.damaged - tried:  # what is still damaged was put back once already
                result.unrepaired = [f"object {o.hex()[:16]} of {result.paths.get(o, '?')}" for o in result.damaged]
                break
    finally:
        for other in others:
            other.close()
    result.repaired_from = repaired
    result.repaired = sum(repaired.values())
    return result


# -- multi-device ---------------------------------------------------------------------


@dataclass
class CloneResult:
    root: str
    share_id: str
    name: str
    remote: str
    device: str
    pull: pull_mod.PullResult
    device_published: bool = True  # False: the remote is read-only; the first push that works publishes it
    invited_by: str | None = None  # clone --invited: the owner's name and user key (fogpub-...), to check
    name_taken: str | None = None  # the host name another device has already: this one took `device` instead
    nodes_failed: dict[str, str] = field(default_factory=dict)  # node -> why it did not learn this device yet


def clone(
    home: Path,
    url: str,
    directory: Path,
    master_key: bytes,
    *,
    share: str | None = None,
    device_name: str | None = None,
    progress: Progress | None = None,
    into_existing: bool = False,
) -> CloneResult:
    """Join this device to the user's devices (if new) and pull a share into `directory`.

    `into_existing`: `directory` may hold files (a share whose `.fog/` was lost
    or moved aside): the pull records each file that equals the incoming head,
    updates one that equals an older version of its path, and keeps every
    other as a local change (the incoming version beside it as a conflict
    copy); files the remote does not know stay, for the next push.
    `progress(done, total)`: bytes of the files its pull writes, block by block.
    """
    from fog.crypto.seal import public_of

    cancel.clear()
    if device_name is not None:
        naming.check_name("device name", device_name)
    name_taken: str | None = None
    root = directory.absolute()
    refuse_home_inside(root, home)
    if (into_existing or _only_fog_dir(root)) and clear_unfinished_start(root):
        pass  # a clone stopped before config.json: the same command starts it again
    if into_existing and os.path.lexists(root / FOG_DIR):
        raise FogError(
            f"{root / FOG_DIR} exists: a sound share needs no rebuilding ('fog pull' finishes an interrupted "
            "clone); to rebuild a damaged one, move it out of the share first"
        )
    if (root / FOG_DIR / "config.json").is_file():
        resumed = _resume_clone(home, root, url, master_key, progress)
        if resumed is not None:
            return resumed
        raise FogError(f"{root} is already a fog share (an interrupted clone?): run 'fog pull' in it to finish")
    if into_existing:
        if root.exists() and not root.is_dir():
            raise FogError(f"{root} is not a directory")
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FogError(f"{root} exists and is not an empty directory (to rebuild a share there: --into-existing)")
    refuse_nesting(root)
    remotes_mod.refuse_inside(url, root)
    through_node = nodes.is_node_url(url)
    if through_node:  # only the master key: the join key opens the node; the SyncConfig there must list it
        join = nodes.Auth(b"", None, None, None, lambda node_public: node_join_keypair(master_key, node_public)[0])
        backend = nodes.open_with(url, join)
    else:
        backend = open_backend(url)
    made: list[Path] = []
    try:
        remote = Remote(backend)
        remote.require_marker()
        config, _ = keyring.load_for_master_key(remote, master_key)
        if config is None:
            raise IdentityError(
                f"no fog settings (devices and shares) for this master key on {url}: "
                "wrong master key, or a remote this user never used"
            )
        node = _listed_node(config, backend, url) if through_node else None
        share_id, share_entry = _pick_share(config, share)
        checkouts.refuse_other(home, share_id, root)  # before anything is made or enrolled
        usk, upk = bytes.fromhex(config.user["secret"]), bytes.fromhex(config.user["public"])
        if public_of(usk) != upk:
            raise IdentityError("the user keypair in your fog settings is inconsistent")
        made = _make_directory(root)  # before this device is enrolled: a directory it cannot make stops here
        if Identity.exists(home):
            ident = Identity.load(home)
            if ident.master_key != master_key or ident.user_public != upk:
                raise IdentityError(f"{home} already holds the identity of another user; use another FOG_HOME")
        else:
            if device_name is None:
                device_name, name_taken = _free_name(config, os.uname().nodename or "device")
            ident = Identity.create(home, name=device_name, master_key=master_key, user=(usk, upk))
        config = _merged_config(ident, remote)
        if node is not None:  # enrol: this device's own key, with a device list that names it
            backend.close()
            public = bytes.fromhex(str(node["public"]))
            space = node.get("space") if isinstance(node.get("space"), str) else None
            auth = nodes.Auth(ident.device_secret, public, space, nodes.roster_bytes(ident, config, public))
            backend = nodes.open_with(url, auth)
            remote = Remote(backend)
            url = nodes.node_url(str(node["address"]))  # the checkout uses the node as the SyncConfig names it
        published = True
        try:
            remote.put_config(ident, config)
        except ReadOnlyRemote:
            published = False  # the device's first push to a writable remote publishes it (enrol.ensure_listed)
        ident.cache_config(config)
    except BaseException:
        _unmake(made)
        raise
    finally:
        backend.close()
    if node is None:  # the nodes learn the new device now (else from its first connection to each)
        rosters = nodes.update_rosters(ident, config)
    else:
        rosters = nodes.RosterUpdate([], {})
    result = _check_out(home, root, url, share_id, share_entry, ident, published, into_existing, progress)
    result.name_taken = name_taken
    result.nodes_failed = rosters.failed
    return result


def _resume_clone(
    home: Path, root: Path, url: str, master_key: bytes, progress: Progress | None = None
) -> CloneResult | None:
    """The same `fog clone` run again after an interruption: finish its pull (None: not a clone of this
    user's from that URL, or not by this identity). A clone stopped after its pull recorded everything
    (a SIGTERM as it printed its summary) is finished: the same command then pulls once more."""
    share = Share(root, lock=False)
    try:
        unfinished = share.db.get_meta(CLONING) is not None
        share_id, name = share.config.share_id, share.config.name
        same_remote = url in share.config.remotes.values()
    finally:
        share.close()
    if not (unfinished or same_remote) or not Identity.exists(home):
        return None
    ident = Identity.load(home)
    if ident.master_key != master_key:
        return None
    result = _clone_pull(home, root, url, progress)
    return CloneResult(str(root), share_id, name, url, ident.device_name, result, True)


def unfinished_clone(share: Share) -> None:
    """Refuse to work from the partial tree of an interrupted clone (it would all look added)."""
    if share.db.get_meta(CLONING) is not None:
        raise FogError(
            f"{share.root} is an unfinished clone (it was interrupted): run the same `fog clone` again, "
            "or `fog pull` in it, to finish it first"
        )


def _refuse_taken_share_name(
    config: SyncConfig | None, name: str, home: Path | None = None, root: Path | None = None, url: str = "URL"
) -> None:
    """UsageError when another live share of this user has `name`: `clone --share NAME` could not pick.
    When `root` was this device's checkout of that share (its .fog/ lost or moved aside), the way to
    rebuild it is said, not --name (which made a second share of the same files: review 7 newuser 9)."""
    for sid, entry in config.shares.items() if config is not None else ():
        if not entry.get("removed") and entry.get("name") == name:
            was = checkouts.recorded(home, sid) if home is not None else None
            if was is not None and root is not None and not (root / FOG_DIR).exists():
                if os.path.realpath(was) == os.path.realpath(root):
                    raise UsageError(
                        f"{root} was this device's checkout of share {name!r} ({sid[:12]}), whose .fog/ is gone: "
                        f"rebuild it with `fog clone {url} {root} --into-existing` (it keeps every file)"
                    )
            raise UsageError(
                f"you have a share named {name!r} already ({sid[:12]}): give this one another name with --name"
            )


def _share_list(live: dict[str, dict]) -> str:
    """The shares as `name (id)`, for a message asking to pick one by name or id."""
    return ", ".join(sorted(f"{naming.shown(str(s.get('name')))} ({sid[:12]})" for sid, s in live.items()))


def _make_directory(root: Path) -> list[Path]:
    """Make `root` (and its missing parents); the directories made, deepest first. FogError when it
    cannot be made (under a file, in /proc, no permission)."""
    missing = []
    p = root
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FogError(f"cannot make {root}: {exc.strerror or exc}") from None
    return missing


def _only_fog_dir(root: Path) -> bool:
    """Whether `root` is a directory holding `.fog/` and nothing else."""
    try:
        return [e.name for e in os.scandir(root)] == [FOG_DIR]
    except OSError:
        return False


def _unmake(made: list[Path]) -> None:
    """Remove the directories `_make_directory` made, while they are empty."""
    for p in made:
        try:
            p.rmdir()
        except OSError:
            return


def _free_name(config: SyncConfig, host: str) -> tuple[str, str | None]:
    """This device's default name: the host name, or `host-2`, `host-3`... when another device of the
    user has it already (two machines both called `laptop` could not be told apart in `log`, in
    conflict copies' names, or by `device rename`). A revoked device keeps its entry, and its name stays
    taken: its versions stay in `log`. Returns (name, the host name if it was taken)."""
    taken = {str(d.get("name")) for d in config.devices.values()}
    if host not in taken:
        return host, None
    n = 2
    while f"{host}-{n}" in taken:
        n += 1
    return f"{host}-{n}", host


def _listed_node(config: SyncConfig, backend: object, url: str) -> dict:
    """The SyncConfig's entry of the node a join-key connection reached (by the key it learned)."""
    learned = getattr(backend, "node_public", None)
    for entry in nodes.nodes(config, removed=False).values():
        if isinstance(learned, bytes) and entry.get("public") == learned.hex():
            return entry
    address = url.split("://", 1)[-1]
    raise IntegrityError(
        f"the node at {address} is not one of your devices (its key is not in your fog settings): refused"
    )


def _check_out(
    home: Path,
    root: Path,
    url: str,
    share_id: str,
    share_entry: dict,
    ident: Identity,
    published: bool,
    into_existing: bool = False,
    progress: Progress | None = None,
) -> CloneResult:
    """Make the share's checkout in `root` (the SyncConfig lists it already) and pull into it."""
    checkouts.claim(home, share_id, root)  # before anything is made: a second checkout here is refused
    root.mkdir(parents=True, exist_ok=True)
    listed = nodes.share_remote_entries(ident.cached_config(), share_id)
    name = _clone_remote_name({**share_entry, "remotes": listed}, url)
    use, own = _clone_url(listed.get(name), url)
    made = Share.create(root, share_id, str(share_entry.get("name", share_id[:8])), use, name)
    try:
        if own:  # as `remote set-url NAME URL --local`: this device's options, the others keep theirs
            made.config.local_remotes[name] = {"url": url}
            made.save_config()
        if into_existing:  # the pull (or, if this one is stopped, the next) meets the files already there
            made.db.put_meta(pull_mod.REBUILT, b"")
        made.db.put_meta(CLONING, url.encode())  # until its pull records: see unfinished_clone
    finally:
        made.close()
    result = _clone_pull(home, root, url, progress)
    name = str(share_entry.get("name"))
    return CloneResult(str(root), share_id, name, url, ident.device_name, result, published)


def _clone_url(entry: dict | None, url: str) -> tuple[str, bool]:
    """The URL a clone's checkout uses for the remote it was cloned from, and whether it is this device's own
    (`local_remotes`): the SyncConfig's spelling of that store (its first pull would rewrite another one),
    unless the clone's URL carries options of its own (`?timeout=3`), which are kept for this device."""
    shared = str((entry or {}).get("url") or "")
    if not shared or (entry or {}).get("removed") or store_key(shared) != store_key(url) or shared == url:
        return url, False
    options = url.partition("?")[2]
    if options and options != shared.partition("?")[2]:
        return url, True
    # an ssh alias (or another name of the server) may carry this device's key or proxy: keep it here
    return (url, True) if kind_of(url) == "sftp" and _ssh_host(url) != _ssh_host(shared) else (shared, False)


def _ssh_host(url: str) -> str:
    """The host of an `sftp://` URL as written (user and port aside): what `~/.ssh/config` is looked up by."""
    from fog.backends.sftp import parse_url

    try:
        return parse_url(url.partition("?")[0])[1].lower()
    except UsageError:
        return url


def _clone_pull(home: Path, root: Path, url: str, progress: Progress | None) -> pull_mod.PullResult:
    """A clone's pull; FogError when it left the clone unfinished (never "Cloned" over an empty tree)."""
    share = Share(root, lock=False)
    try:
        given = set(share.config.remotes)  # the remote cloned from (the others are learnt from the settings)
    finally:
        share.close()
    result = pull(home, root, progress=progress, every_remote=True)
    for name in [n for n in result.remote_errors if n not in given]:  # read if it can be: not the clone's failure
        result.warnings.append(
            f"remote {name} could not be read too ({result.remote_errors.pop(name)}); this "
            "clone holds what the remote it was cloned from holds, `fog pull` reads it later"
        )
    share = Share(root, lock=False)
    try:
        unfinished = share.db.get_meta(CLONING) is not None
    finally:
        share.close()
    if unfinished:
        errors = "; ".join(f"{n}: {e}" for n, e in sorted(result.remote_errors.items()))
        refused = any(isinstance(e, Refused) for e in result.remote_errors.values())  # refused data: exit 4
        raise (IntegrityError if refused else RemoteError)(
            f"the clone could not pull the share from {url}{f' ({errors})' if errors else ''}: {root} is an "
            "unfinished clone; run the same `fog clone` again, or `fog pull` in it, to finish it"
        )
    return result


def clone_invited(
    home: Path,
    url: str,
    directory: Path,
    *,
    share: str | None = None,
    device_name: str | None = None,
    master_key_file: Path | None = None,
    inviter: str | None = None,
    progress: Progress | None = None,
) -> CloneResult:
    """Take a share another user invited this user to (`fog share invite`) and pull it into `directory`.

    Uses this device's own identity; a machine without one gets a new user
    (its master key written to `master_key_file`, which is then required).
    `inviter` (the owner's user key, as `fog key show` prints it): only an
    invitation signed by that key is taken. Without it, anyone who can write
    to the store could leave an invitation to a share of their own under a
    familiar name; the result names the inviter's key for the user to check.
    """
    from fog.crypto.keys import public_key_from_text, public_key_to_text

    if device_name is not None:
        naming.check_name("device name", device_name)
    want_sign = None
    if inviter is not None:
        try:
            want_sign = public_key_from_text(inviter)[1].hex()
        except ValueError as exc:
            raise UsageError(f"--from: {exc}") from None
    cancel.clear()
    root = directory.absolute()
    refuse_home_inside(root, home)
    if not Identity.exists(home) and master_key_file is None:
        raise UsageError(
            "this machine has no fog identity yet: give --master-key-file F to make one (your own user; the "
            "new master key is written to F), or run `fog clone` of one of your own shares first"
        )
    if not Identity.exists(home) and master_key_file is not None:  # (F receives a new identity's key)
        if os.path.lexists(master_key_file):
            raise UsageError(
                f"{master_key_file} exists; refusing to overwrite it: with --invited, --master-key-file names a "
                "new file for a new identity's master key (to join as a user you are already, `fog clone` one "
                "of your own shares on this machine first)"
            )
        _refuse_key_in_share(master_key_file, root, url)
        _probe_key_file(master_key_file, "nothing was made")
    backend = open_backend(url)
    made: list[Path] = []
    try:
        remote = Remote(backend)
        remote.require_marker()
        new_identity = not Identity.exists(home)
        ident = Identity.load(home) if not new_identity else Identity.create(home, name=device_name)
        if new_identity and master_key_file is not None:
            write_private(master_key_file, (master_key_to_text(ident.master_key) + "\n").encode())
        found = members.find_invitations(remote, ident)
        if want_sign is not None:
            found = [d for d in found if d["owner"]["sign"] == want_sign]
        if share is not None:
            found = [d for d in found if d["entry"].get("name") == share or str(d["share"]).startswith(share)]
        if not found:
            raise FogError(f"no invitation for this user on {url}" + (f" for share {share!r}" if share else ""))
        if len(found) > 1:
            names = ", ".join(
                sorted(
                    f"{d['entry'].get('name')} (from {d['owner'].get('name')}, {d['owner']['sign'][:12]})"
                    for d in found
                )
            )
            raise UsageError(f"several invitations wait here; pick one with --share NAME and --from KEY: {names}")
        config = _merged_config(ident, remote)
        share_id, share_entry, config = members.accept(config, found[0], inviter_given=want_sign is not None)
        here = checkouts.existing(home, share_id)
        if here is None:
            if root.exists() and (not root.is_dir() or any(root.iterdir())):
                raise FogError(f"{root} exists and is not an empty directory")
            refuse_nesting(root)
            made = _make_directory(root)
        remote.put_config(ident, config)
        ident.cache_config(config)
    except BaseException:
        _unmake(made)
        raise
    finally:
        backend.close()
    if here is not None:  # invited again (the owner's keys changed): the checkout this device has takes it
        name = str(share_entry.get("name"))
        pulled = pull(home, here, progress=progress)
        result = CloneResult(str(here), share_id, name, url, ident.device_name, pulled, True)
    else:
        result = _check_out(home, root, url, share_id, share_entry, ident, True, progress=progress)
    owner = found[0]["owner"]
    result.invited_by = (
        f"{owner.get('name')} {public_key_to_text(bytes.fromhex(owner['box']), bytes.fromhex(owner['sign']))}"
    )
    return result


@dataclass
class MemberInfo:
    name: str
    user_id: str
    role: str  # owner | member | read-only | removed
    devices: list[str]
    this_user: bool
    user_key: str


def _member_info(m: members.Member) -> MemberInfo:
    from fog.crypto.keys import public_key_to_text

    role = "removed" if m.removed else "owner" if m.owner else "read-only" if m.read_only else "member"
    return MemberInfo(
        m.name,
        m.user_id,
        role,
        sorted(str(d.get("name", did[:8])) for did, d in m.devices.items()),
        m.this_user,
        public_key_to_text(bytes.fromhex(m.box), bytes.fromhex(m.sign)),
    )


def share_invite(
    home: Path,
    cwd: Path,
    user_key: str,
    *,
    name: str | None,
    read_only: bool,
    share: str | None = None,
    wait: bool = False,
) -> members.Invitation:
    if name is not None:
        naming.check_name("member name", name)
    with context(home, _share_dir(home, cwd, share), wait=wait) as ctx:
        return members.invite(ctx, pull_mod.refresh_config(ctx), user_key, name=name, read_only=read_only)


def _share_dir(home: Path, cwd: Path, share: str | None) -> Path:
    """Where to run a command about `share` (a name or id prefix): this device's checkout of it, else cwd."""
    if share is None:
        return cwd
    ident = Identity.load(home)
    config = ident.cached_config()
    live = {sid: e for sid, e in (config.shares.items() if config else []) if not e.get("removed")}
    hits = [sid for sid, e in live.items() if e.get("name") == share]
    if not hits:
        hits = [sid for sid in live if sid.startswith(share.lower())]
    if len(hits) != 1:
        which = {sid: live[sid] for sid in hits} if hits else live
        raise UsageError(f"no single share matches {share!r}; pick one by name or id: {_share_list(which)}")
    here = checkouts.existing(home, hits[0])
    if here is None:
        raise FogError(f"share {share!r} has no checkout on this device: `fog clone` it first")
    return here


def share_members(home: Path, cwd: Path, share: str | None = None, *, wait: bool = False) -> list[MemberInfo]:
    with context(home, _share_dir(home, cwd, share), wait=wait) as ctx:
        return [_member_info(m) for m in members.members(ctx, pull_mod.refresh_config(ctx))]


def share_remove_member(home: Path, cwd: Path, who: str, *, wait: bool = False) -> MemberInfo:
    with context(home, cwd, wait=wait) as ctx:
        return _member_info(members.remove_member(ctx, pull_mod.refresh_config(ctx), who))


def _clone_remote_name(share_entry: dict, url: str) -> str:
    """The SyncConfig's name for the remote cloned from (so that its cursors stay its own),
    else 'origin', or a free name when the SyncConfig uses 'origin' for another URL."""
    listed = {n: e for n, e in (share_entry.get("remotes") or {}).items() if not e.get("removed")}
    key = store_key(url)
    for name, entry in sorted(listed.items()):
        if store_key(str(entry.get("url"))) == key:
            return str(name)
    name, n = "origin", 1
    while name in listed:
        n += 1
        name = f"origin-{n}"
    return name


def _pick_share(config: SyncConfig, wanted: str | None) -> tuple[str, dict]:
    live = {sid: s for sid, s in config.shares.items() if not s.get("removed")}
    if wanted is not None:
        hits = [(sid, s) for sid, s in live.items() if s.get("name") == wanted]
        if not hits:
            hits = [(sid, s) for sid, s in live.items() if sid.startswith(wanted.lower())]
        if len(hits) > 1:
            raise UsageError(
                f"several shares match {wanted!r}; pick one by its id with --share: {_share_list(dict(hits))}"
            )
        if not hits:
            raise FogError(f"no share matches {wanted!r}; shares: {_share_list(live)}")
        return hits[0]
    if len(live) == 1:
        return next(iter(live.items()))
    if not live:
        raise FogError("your fog settings list no shares")
    raise UsageError(f"this user has several shares; pick one with --share NAME or ID: {_share_list(live)}")


def pull(
    home: Path,
    cwd: Path,
    *,
    remote: str | None = None,
    wait: bool = False,
    max_delete: str | None = None,
    progress: Progress | None = None,
    every_remote: bool = False,
) -> pull_mod.PullResult:
    """Pull from every remote (or the named one); `progress(done, total)`: bytes of the files written,
    told as their blocks arrive, one bar over every remote. `every_remote` (a clone): also the remotes the
    SyncConfig it reads lists, in this run (a clone from a disk that lags gets what the others hold)."""
    limit = DeleteLimit.parse(max_delete)
    with all_contexts(home, cwd, remote=remote, wait=wait) as (ctxs, failed):
        share, ident = ctxs[0].share, ctxs[0].ident
        result = _pull_following(ctxs, failed, limit, progress, follow=remote is None, added=every_remote)
        _deliver(share, ident)
        return result


def _pull_following(
    ctxs: list[Context],
    failed: dict[str, str],
    limit: DeleteLimit,
    progress: Progress | None,
    *,
    follow: bool,
    added: bool,
) -> pull_mod.PullResult:
    """_pull_all; with `follow` (every remote), then also the remotes the SyncConfig it read moved (another
    device's `remote set-url`, `device set-address`), and with `added` those it added, in this run: appended
    to ctxs. (A pull reads a remote added elsewhere from its next run; `sync` pushes there at once.)"""
    urls = dict(ctxs[0].share.config.remotes)
    total = _pull_all(ctxs, failed, limit, progress)
    if follow:
        now = ctxs[0].share.config.remotes
        for name in [n for n in total.remote_errors if n in urls and now.get(n) != urls[n]]:
            del total.remote_errors[name]  # not reached at its old URL: moved or removed since, not failed
        before = list(ctxs)  # (a name moved is reopened under the same name: a new context)
        _follow_remotes(ctxs, total.remote_errors, None if added else set(urls))
        fresh = [c for c in ctxs if not any(c is b for b in before)]
        if fresh:
            total.absorb(_pull_all(fresh, {}, limit))
    return total


def _pull_all(
    ctxs: list[Context], failed: dict[str, str], limit: DeleteLimit, progress: Progress | None = None
) -> pull_mod.PullResult:
    """Pull from each remote in turn (versions dedupe by id), merging the reports."""
    total = pull_mod.PullResult(",".join(c.remote_name for c in ctxs), remote_errors=dict(failed))
    step, next_run = offset(progress)
    results: list[pull_mod.PullResult] = []
    for ctx in ctxs:
        if ctx.stale:
            continue  # an earlier pull here found the name removed or moved: never mix two stores' state
        next_run()  # (after the last remote's bytes, also when it failed part-way)
        try:
            others = [c.store for c in ctxs if c is not ctx and not c.stale]
            r = pull_mod.pull(ctx, max_delete=limit, progress=step, sources=others)
            if not ctx.stale:
                push_mod.acknowledge(ctx)  # prune intents this pull observed (section 14)
        except (RemoteError, IntegrityError) as exc:
            # refused data (exit 4) drops that remote like an unreachable one: nothing it refused is
            # applied, and the remotes that verify are still pulled (one bad store must not stop all)
            total.remote_errors[ctx.remote_name] = failure(exc)
            continue
        results.append(r)
    _drop_applied_later(results)
    for r in results:
        total.absorb(r)
    if total.updated or total.deleted or total.conflicts or total.kept:
        # (only a pull that replaced or removed something archived it: a no-change sync from cron walked
        # and stat'ed every archived object, a cost that grew with the archive)
        trim_archive(ctxs[0])
    return total


def _drop_applied_later(results: list[pull_mod.PullResult]) -> None:
    """A path one remote's pull could not apply (its pack unreadable there) that a later remote's pull of the
    same run applied is not reported as failed (it said "not applied" for a file then on disk)."""
    if not any(r.failed for r in results[:-1]):
        return
    applied: set[str] = set()
    for r in reversed(results):
        if r.failed and applied:
            r.failed = [e for e in r.failed if not any(e[:i] in applied for i in _colons(e))]
        applied.update(r.updated)
        applied.update(r.deleted)


def _colons(entry: str) -> Iterator[int]:
    """Where a `failed` entry's "PATH: why" may end its path (a path may hold ": " itself)."""
    at = entry.find(": ")
    while at >= 0:
        yield at
        at = entry.find(": ", at + 1)


def _follow_remotes(ctxs: list[Context], failed: dict[str, str], only: set[str] | None = None) -> None:
    """Open the remotes a pull learnt from the SyncConfig (those in `only`, if given); drop those it
    removed (in place)."""
    share, ident = ctxs[0].share, ctxs[0].ident
    for ctx in [c for c in ctxs if c.stale]:
        ctxs.remove(ctx)
        ctx.close()
    dups = duplicates(share.config.remotes)
    names = set(share.config.remotes) if only is None else set(share.config.remotes) & only
    for name in sorted(names - {c.remote_name for c in ctxs} - set(failed) - set(dups)):
        try:
            ctxs.append(open_context(share, ident, name))
        except (RemoteError, IntegrityError) as exc:
            failed[name] = failure(exc)


@dataclass
class SyncResult:
    pull: pull_mod.PullResult
    push: push_mod.PushResult
    trim: TrimResult | None = None  # `--prune` ran: what it forgot and pruned
    clock: list[str] = field(default_factory=list)  # `--prune`: times recorded here ahead of the clock now


@dataclass
class TrimResult:
    forget: forget_mod.ForgetResult
    prune: PruneReport
    clock_held_s: int = 0  # this device's clock was this far past what the trim's retention clock allowed


TRIMMED = "trimmed"  # share meta: when this device last trimmed (ns, decimal): `fog sync --prune`
CLOCK_SLACK_S = 3600  # a time recorded here at most this far ahead of the clock is reset without a warning
TRIM_EVERY_NS = 20 * 3600 * 10**9  # at most this often: a daily cron job, or one every 15 minutes, trims once a day
RETENTION_CLOCK = "retention-clock"  # share meta: the "now" the last trim forgot by (ns, decimal)
CLOCK_STEP_NS = 7 * 86400 * 10**9  # how far one trim moves it at most


def _retention_now(share: Share, now: int) -> int:
    """The "now" a trim forgets by: this device's clock, but at most CLOCK_STEP_NS past the one the last
    trim used (the first trim: past the newest version recorded here).

    keep-deleted and keep-within count from "now": one run with the clock a year ahead (a bad RTC, a
    wrong NTP answer) would forget every deleted path's whole history at once. Bounded, a clock jump
    moves them a week per trim; a clock behind only keeps more (docs/FORMAT.md, section 14)."""
    raw = share.db.get_meta(RETENTION_CLOCK)
    if raw is not None and raw.isdigit():
        base: int | None = int(raw)
    else:
        base = next((v.time_ns for v in share.db.recent(1)), None)
    used = now if base is None else min(now, base + CLOCK_STEP_NS)
    share.db.put_meta(RETENTION_CLOCK, str(used if base is None else max(used, base)).encode())
    return used


def _trim(ctxs: list[Context], failed: dict[str, str], clock: list[str]) -> TrimResult | None:
    """forget with the share's policy, then prune every remote reached: when the last trim is old enough.

    A last trim ahead of the clock (a run while the clock was wrong) counts as now, said in `clock`:
    else trimming would stop until the clock caught up with it."""
    share, ident = ctxs[0].share, ctxs[0].ident
    last = share.db.get_meta(TRIMMED)
    now = time.time_ns()
    if last is not None and last.isdigit() and int(last) > now:
        ahead = (int(last) - now) / 1e9
        if ahead > CLOCK_SLACK_S:  # (a clock stepped back by seconds is no news)
            clock.append(
                f"the last trim here is dated {ahead / 86400:.1f} days ahead of the clock now (the clock was "
                "wrong then, or is now): it counts as now, so the next trim comes in a day"
            )
        share.db.put_meta(TRIMMED, str(now).encode())
        return None
    if last is not None and last.isdigit() and now - int(last) < TRIM_EVERY_NS:
        return None
    bounded = _retention_now(share, now)
    forgot = _forget_in(share, ident, None, None, ctxs=ctxs, now_ns=bounded, listing=False)
    report = PruneReport(failed=dict(forgot.remote_errors))
    for ctx in ctxs:
        if ctx.remote_name in report.failed or ctx.remote_name in failed:
            continue
        if prune_mod.append_only(ctx):  # its owner chose append-only: not an error at every daily run
            report.skipped[ctx.remote_name] = "an append-only node (`fog serve --allow-prune` lets it be pruned)"
            continue
        if members.is_shared(ctx.store):  # `fog prune` refuses it (prune_mod.prune): not an error at every run
            report.skipped[ctx.remote_name] = prune_mod.SHARED_SKIPPED
            continue
        _prune_one(
            ctx, ctxs, report, dry_run=False, grace=prune_mod.DEFAULT_GRACE_S, unused=prune_mod.DEFAULT_MAX_UNUSED
        )
    share.db.put_meta(TRIMMED, str(now).encode())
    return TrimResult(forgot, report, (now - bounded) // 10**9)


def sync(
    home: Path,
    cwd: Path,
    *,
    remote: str | None = None,
    wait: bool = False,
    progress: Progress | None = None,
    max_delete: str | None = None,
    trim: bool = False,
    pull_progress: Progress | None = None,
) -> SyncResult:
    """pull, then push, under one lock; with `trim`, then forget and prune at most once a day (_trim).

    `pull_progress` and `progress`: the bytes the pull writes, then those the push reads."""
    limit = DeleteLimit.parse(max_delete)
    with (
        open_share(home, cwd, wait=wait) as (share, ident),
        push_workers(share, ident) as workers,  # (before the pull starts its threads: they wait meanwhile)
        remote_contexts(share, ident, remote) as (ctxs, failed),
        spare_readers(share, ident, remote) as readers,
    ):
        pulled = _pull_following(ctxs, failed, limit, pull_progress, follow=remote is None, added=True)
        live = [c for c in ctxs if c.remote_name not in pulled.remote_errors and not c.stale]
        if not live:
            raise none_left(pulled.remote_errors)
        if read_only(ident.cached_config(), share.config.share_id):
            pushed = _nothing_to_push(live, pulled.remote_errors)  # (and nothing of theirs to forget or prune)
            _deliver(share, ident)
            return SyncResult(pulled, pushed)
        pushed = push_mod.push(
            live, progress=progress, failed=pulled.remote_errors, max_delete=limit, sealers=workers, readers=readers
        )
        clock: list[str] = []
        trimmed = _trim(live, pushed.remote_errors, clock) if trim else None
        if trimmed is not None:
            clock += [f"remote {r.remote}: {note}" for r in trimmed.prune.remotes for note in r.clock]
        _deliver(share, ident)
        return SyncResult(pulled, pushed, trimmed, clock)


def devices(home: Path, cwd: Path, *, wait: bool = False) -> list[devices_mod.DeviceInfo]:
    with context(home, cwd, wait=wait) as ctx:
        return devices_mod.list_devices(ctx)


def revoke_device(
    home: Path, cwd: Path, name: str, master_key_file: Path | None = None, *, wait: bool = False
) -> RotationResult:
    _check_key_file(master_key_file)
    with context(home, cwd, wait=wait) as ctx:
        return _rotated(devices_mod.revoke(ctx, name), master_key_file, ctx.ident.cached_config())


def rotate_keys(
    home: Path, cwd: Path, keep: list[str] | None = None, master_key_file: Path | None = None, *, wait: bool = False
) -> RotationResult:
    _check_key_file(master_key_file)
    with context(home, cwd, wait=wait) as ctx:
        return _rotated(devices_mod.rotate(ctx, keep), master_key_file, ctx.ident.cached_config())


def _refuse_key_in_share(path: Path, root: Path | None = None, store: str | None = None) -> None:
    """UsageError when a new master key file would be inside a share (`root`, or any found above it): the
    next push would publish it, to every device and to the share's other users. Or inside a store (a
    directory holding a fog-store marker, or `store`, a remote's URL): the key would lie beside the
    ciphertext it opens, for whoever holds the disk, and for a revoked device that still reads it."""
    share = _share_holding(path, root)
    if share is not None:
        raise UsageError(
            f"--master-key-file {path} is inside the share {share}: its next push would publish the key; "
            "choose a file outside any share"
        )
    where = Path(os.path.realpath(path.absolute().parent))
    at = local_path(store) if store is not None else None
    for d in (where, *where.parents):
        if d == at or (d / MARKER_NAME).is_file():
            raise UsageError(
                f"--master-key-file {path} is inside the fog store {d}: the key would lie beside the data it "
                "opens, for anyone who holds the store; choose a file outside any store"
            )


def _share_holding(path: Path, root: Path | None) -> Path | None:
    """The share a file at `path` would be in: `root` (a share being made, maybe not there yet), or one found
    above it. Both as spelled and resolved: a symlinked directory on the way can lead into a share."""
    spelled = path.absolute()
    real = Path(os.path.realpath(spelled.parent)) / spelled.name  # (the file itself is replaced, not followed)
    roots = () if root is None else (root, Path(os.path.realpath(root)))
    for p in (spelled, real):
        if any(p.is_relative_to(r) for r in roots):
            return root
        try:
            return find_root(p.parent)
        except NotAShareError:
            pass
    return None


def _check_key_file(path: Path | None) -> None:
    """Before a rotation: the new master key's file can be written there (a rotation cannot be undone, and
    its key exists nowhere else). An existing file is replaced (the old key it holds no longer joins)."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"--master-key-file {path} is a directory: name a file for the new master key")
    _refuse_key_in_share(path)
    _probe_key_file(path, "nothing was changed")


def _holds_master_key(path: Path, home: Path) -> bool:
    """Whether the file at `path` holds the master key of this machine's identity."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # (a FIFO there must not hang init)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        text = os.read(fd, 4096).decode(errors="replace").strip()
        return master_key_from_text(text) == Identity.load(home).master_key
    except (OSError, ValueError, FogError):
        return False
    finally:
        os.close(fd)


def _probe_key_file(path: Path, unchanged: str) -> None:
    """The master key's file can be made there (its directory exists and takes a new file): checked before
    anything the key would be lost with is done."""
    probe = path.with_name(f".{path.name}.probe-{os.getpid()}")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise FogError(f"cannot write the master key to {path}: {exc.strerror}; {unchanged}") from None


def adopt_key(home: Path, cwd: Path, master_key: bytes, *, wait: bool = False) -> int:
    """Take a master key by hand (`fog key adopt`); returns the key epoch now held.

    The share's remote is opened without reading the SyncConfig first (open_context would): with the
    cached copy lost, reading it is what asks for this very command. The key is checked against the
    SyncConfig at its own place there (keyring.adopt)."""
    with open_share(home, cwd, wait=wait) as (share, ident):
        _, url = share.remote_url(None)
        remote = Remote(nodes.open_remote(url, ident))
        try:
            remote.require_marker()
            return keyring.adopt(remote, ident, master_key).epoch
        finally:
            remote.backend.close()


def _rotated(result: RotationResult, master_key_file: Path | None, config: SyncConfig | None) -> RotationResult:
    """Write the new master key to a file instead of showing it, when asked (as `init` does); name the shares
    other users own (`config`: the SyncConfig after the rotation): their members know this user by the retired
    key until the owner invites the new one (docs/FORMAT.md, section 16)."""
    for entry in config.shares.values() if config is not None else []:
        owner = entry.get("owner")
        if isinstance(owner, dict) and not entry.get("removed"):
            result.shared_by_others.append(f"{entry.get('name', '?')} (owner {owner.get('name', '?')})")
    if master_key_file is not None:
        try:
            write_private(master_key_file, (result.master_key + "\n").encode())
        except OSError as exc:  # (checked before; the key is shown instead: it exists nowhere else)
            result.key_file_error = f"cannot write {master_key_file}: {exc.strerror}"
            return result
        result.master_key_file = str(master_key_file)
        result.master_key = None
    return result


def rename_device(home: Path, cwd: Path, name: str, new_name: str, *, wait: bool = False) -> devices_mod.DeviceInfo:
    with context(home, cwd, wait=wait) as ctx:
        return devices_mod.rename(ctx, name, new_name)


def add_untrusted(
    home: Path, cwd: Path, name: str, address: str, node_key: str, *, wait: bool = False
) -> devices_mod.NodeChange:
    """Add an untrusted node (`fog serve`) as a device of the user: a remote of every share."""
    from fog.crypto.keys import node_key_from_text

    try:
        key = node_key_from_text(node_key)
    except ValueError as exc:
        raise UsageError(f"--key: {exc}") from None
    with context(home, cwd, wait=wait) as ctx:
        return devices_mod.add_untrusted(ctx, name, address, key)


def remove_node(home: Path, cwd: Path, name: str, *, wait: bool = False) -> devices_mod.NodeChange:
    with context(home, cwd, wait=wait) as ctx:
        return devices_mod.remove_node(ctx, name)


def set_node_address(home: Path, cwd: Path, name: str, address: str, *, wait: bool = False) -> devices_mod.NodeChange:
    with context(home, cwd, wait=wait) as ctx:
        return devices_mod.set_address(ctx, name, address)


# -- remotes ---------------------------------------------------------------------------


def remotes(home: Path, cwd: Path, *, probe: bool = True) -> list[remotes_mod.RemoteInfo]:
    """The share's remotes, and (`probe`) whether this device reaches each one now."""
    with open_share(home, cwd, lock=False) as (share, ident):
        return remotes_mod.list_remotes(share, ident, probe=probe)


def add_remote(
    home: Path, cwd: Path, name: str, url: str, *, options: dict[str, str] | None = None, wait: bool = False
) -> remotes_mod.RemoteInfo:
    with open_share(home, cwd, wait=wait) as (share, ident):
        _refuse_revoked(share, ident)
        return remotes_mod.add_remote(share, ident, name, url, options)


def _refuse_revoked(share: Share, ident: Identity) -> None:
    """A revoked device is told (RevokedError, exit 6) before it changes the share's remotes for every
    device: what it would publish reaches no one. Reads each reachable remote's SyncConfig, as a pull."""
    remotes_mod.fresh_config(share, ident, {}, refused_ok=True)  # (a remote refused here may be the one removed)


def remove_remote(
    home: Path, cwd: Path, name: str, *, force: bool = False, wait: bool = False
) -> remotes_mod.RemoteInfo:
    with open_share(home, cwd, wait=wait) as (share, ident):
        _refuse_revoked(share, ident)
        return remotes_mod.remove_remote(share, ident, name, force=force)


def set_remote_url(
    home: Path, cwd: Path, name: str, url: str | None, *, local: bool = False, force: bool = False, wait: bool = False
) -> remotes_mod.RemoteInfo:
    with open_share(home, cwd, wait=wait) as (share, ident):
        if not local:
            _refuse_revoked(share, ident)
        return remotes_mod.set_url(share, ident, name, url, local=local, force=force)


def renew_remote(home: Path, cwd: Path, name: str, *, wait: bool = False) -> remotes_mod.RemoteInfo:
    with open_share(home, cwd, wait=wait) as (share, ident):
        _refuse_revoked(share, ident)
        return remotes_mod.renew_remote(share, ident, name)


def skip_remote(
    home: Path, cwd: Path, name: str, skipped: bool = True, *, wait: bool = False
) -> remotes_mod.RemoteInfo:
    with open_share(home, cwd, wait=wait) as (share, ident):
        return remotes_mod.skip(share, ident, name, skipped)


# -- retention policy ------------------------------------------------------------------------


def _policy_of(entry: dict) -> tuple[Policy, bool]:
    """A share entry's policy (else the defaults) and whether one is stored; FogError for one
    this fog cannot apply (a rule of a newer fog)."""
    try:
        return share_policy(entry), "policy" in entry
    except ValueError as exc:
        raise FogError(
            f"the share's retention policy cannot be used by this fog ({exc}): upgrade fog on this device"
        ) from None


def policy(home: Path, cwd: Path) -> tuple[Policy, bool]:
    """The share's retention policy in this device's copy of the SyncConfig (as of its last pull),
    or the defaults; and whether one is stored."""
    with open_share(home, cwd, lock=False) as (share, ident):
        config = ident.cached_config()
        return _policy_of(config.shares.get(share.config.share_id, {}) if config is not None else {})


@dataclass
class PolicyChange:
    policy: Policy  # in force now
    previous: Policy
    previous_stored: bool  # False: the defaults were in force
    changed: bool  # False: the same rules were stored already; nothing was written
    published: list[str] = field(default_factory=list)  # remotes the new SyncConfig version is on
    remote_errors: dict[str, str] = field(default_factory=dict)  # remotes it could not reach


def set_policy(home: Path, cwd: Path, change: Callable[[Policy], Policy], *, wait: bool = False) -> PolicyChange:
    """Change the share's retention policy for every device: `change` gets the policy in force
    (the SyncConfig's, merged with what every reachable remote holds, else the defaults) and
    returns the new one, published as a new SyncConfig version on every remote this device uses.

    Fails without changing anything when no remote can be read; a remote that cannot be read or
    written is named in `remote_errors` (its devices learn the policy from the others)."""
    with open_share(home, cwd, wait=wait) as (share, ident):
        failed: dict[str, str] = {}
        config, read = remotes_mod.fresh_config(share, ident, failed, refused_ok=True)
        if not read:
            raise (
                none_left(failed)
                if any(isinstance(w, Refused) for w in failed.values())
                else RemoteError(
                    "the policy was not changed: no remote of the share could be read ("
                    + "; ".join(f"{n}: {e}" for n, e in sorted(failed.items()))
                    + ")"
                )
            )
        sid = share.config.share_id
        previous, stored = _policy_of(config.shares.get(sid, {}))
        new = change(previous)
        if stored and new.same_rules(previous):
            return PolicyChange(previous, previous, True, False, [], failed)
        # never older than what it replaces: a device whose clock runs behind still gets its change through
        new = replace(new, updated=max(time.time_ns(), previous.updated + 1))
        shares = dict(config.shares)
        shares[sid] = {**shares.get(sid, {}), "policy": new.to_json()}
        config = config.with_(shares=shares)
        published = remotes_mod.publish_config(share, ident, config, failed=failed, cache_if_nowhere=False)
        for name in published:
            failed.pop(name, None)
        return PolicyChange(new, previous, stored, True, published, failed)


# -- looking at versions ---------------------------------------------------------------------


def cat(home: Path, cwd: Path, spec: str, out: Callable[[bytes], object], *, wait: bool = False) -> Version:
    """Write one file version's bytes to `out` (verified block by block)."""
    with context(home, cwd, wait=wait, offline_ok=True) as ctx:
        v = resolve_version(ctx.share, cwd, spec, device_names(ctx.ident, ctx.share))
        if v.kind == "deleted":
            hint = revs.older_than_deletion(ctx.share.db.path_history(v.path), v)
            raise FogError(f"{v.path} is deleted at that version ({v.id.hex()[:12]}); {hint}")
        if v.kind != "file":
            what = {"dir": "a directory", "link": "a symlink"}.get(v.kind, v.kind)
            raise FogError(f"{v.path}@{v.id.hex()[:12]} is {what}, not a file")
        with _forgotten_explained(ctx, v):
            stream_version(ctx.store, v, out)
        return v


def diff(
    home: Path, cwd: Path, spec_a: str, spec_b: str | None = None, *, wait: bool = False
) -> inspect_mod.DiffResult:
    """Compare two versions, or a version with the working file."""
    with context(home, cwd, wait=wait, offline_ok=True) as ctx:
        a = resolve_version(ctx.share, cwd, spec_a)
        with _forgotten_explained(ctx, a):
            old = inspect_mod.version_side(ctx, a)
        if spec_b is None:
            new = inspect_mod.working_side(ctx.share.root / a.path, a.path)
        else:
            b = _second_side(ctx.share, cwd, a, spec_b)
            with _forgotten_explained(ctx, b):
                new = inspect_mod.version_side(ctx, b)
        return inspect_mod.diff(a.path, old, new)


def _second_side(share: Share, cwd: Path, a: Version, spec: str) -> Version:
    """PATH@REV; or a bare PATH (its newest version); or a bare REV of a's path."""
    if "@" in spec:
        return resolve_version(share, cwd, spec)
    try:
        history = share.db.path_history(share_path(share, cwd, spec))
    except UsageError:
        history = []
    if history:
        return history[0]
    return revs.resolve(share.db.path_history(a.path), a.path, spec)


@dataclass
class KeyInfo:
    device_id: str
    device_name: str
    device_public: str
    user_public: str  # the user's public keys as people paste them (fogpub-..., with a checksum): `--user` takes it
    master_key: str | None  # only when asked for
    user_key: str = ""  # the same (the name `fog share invite --user KEY` uses)
    user_box_public: str = ""  # the user's Box key alone, hex (what user_public held before sharing existed)
    user_sign_public: str = ""  # the user's Ed25519 signing key (derived from the user secret)
    sign_public: str = ""  # this device's Ed25519 signing key
    epoch: int = 0  # the key epoch of this device's SyncConfig place (key rotations so far)
    protected: bool = False  # FOG_HOME's secrets are sealed under a passphrase (fog key protect)


def key_info(home: Path, *, master: bool = False) -> KeyInfo:
    from fog.crypto.keys import master_key_to_text, public_key_to_text

    ident = Identity.load(home)
    config = ident.cached_config()
    return KeyInfo(
        ident.device_id,
        ident.device_name,
        ident.device_public.hex(),
        public_key_to_text(ident.user_public, ident.user_sign_public),
        master_key_to_text(ident.master_key) if master else None,
        public_key_to_text(ident.user_public, ident.user_sign_public),
        ident.user_public.hex(),
        ident.user_sign_public.hex(),
        ident.sign_public.hex(),
        config.epoch if config is not None else 0,
        vault.is_protected(home),
    )


@dataclass
class ProtectResult:
    home: str
    protected: bool  # the secrets are sealed under a passphrase now
    changed: bool  # protect: the home was sealed under another passphrase before; unprotect: anything was sealed
    files: list[str]  # the files rewritten


def unlock_home(home: Path) -> bool:
    """Open FOG_HOME's identity (with its passphrase, if it is sealed); whether it is sealed.

    A wrong passphrase fails here, before a command asks for anything else.
    """
    if not Identity.exists(home):
        raise IdentityError(f"no fog identity in {home}; run 'fog init' or 'fog clone' first")
    vault.read_files(home, ("identity.json",))
    return vault.is_protected(home)


def protect_home(home: Path, passphrase: str) -> ProtectResult:
    """Seal every secret file of FOG_HOME under `passphrase` (a protected home: the passphrase changes).

    The current passphrase, if any, comes from fog.repo.vault's source.
    """
    changed = vault.is_protected(home)
    return ProtectResult(str(home), True, changed, vault.protect(home, passphrase))


def unprotect_home(home: Path) -> ProtectResult:
    """Write FOG_HOME's sealed files in clear again (with the passphrase from fog.repo.vault's source)."""
    files = vault.unprotect(home)
    return ProtectResult(str(home), False, bool(files), files)
