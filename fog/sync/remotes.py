"""A share's remotes: kept in the SyncConfig so every trusted device knows them.

Each share's SyncConfig entry lists its remotes (`remotes`: name -> {url,
kind, added, updated, removed}; never a credential). `fog remote add`,
`remove` and `set-url` on any device publish a new SyncConfig version on
every remote this device reaches; every other device applies the change at
its next pull (`reconcile`). `.fog/config.json` holds what this device uses
(`remotes`: name -> URL) and its own overrides (`local_remotes`: another URL
for a disk mounted elsewhere, or `skip` for a remote it cannot reach and
leaves to the devices that can).

A remote added here is seeded with every version this device knows; a remote
a device learns from the SyncConfig gets the versions that device made (see
`_use`). The next push publishes them, copying their objects from the remotes
that hold them (fog.sync.replicate).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fog.backends.base import duplicates, kind_of, store_key
from fog.crypto.keys import ShareKeys, config_keys, device_log_name
from fog.errors import FogError, IntegrityError, KeysRotated, Refused, RemoteError, UsageError
from fog.format.syncconfig import SyncConfig
from fog.repo.identity import Identity
from fog.repo.share import Share
from fog.store import Remote
from fog.sync import keyring, nodes
from fog.sync.context import UNDELIVERED, config_seen_key, remote_instance_key
from fog.sync.enrol import merged_config
from fog.sync.logs import rollback_advice, rolled_back_text
from fog.sync.nodes import open_remote
from fog.sync.stranded import record as record_stranded

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class RemoteInfo:
    name: str
    url: str  # the URL this device uses (its own override, if any)
    pending: int  # versions waiting to be published there
    shared_url: str = ""  # the URL in the SyncConfig, when this device overrides it
    skipped: bool = False  # this device leaves the remote to others
    reachable: bool | None = None  # None: not probed
    error: str = ""  # why it is not reachable
    kind: str = ""  # file | sftp | s3 | fog (an untrusted node) | fog+ssh
    node: bool = False  # the remote is one of the user's untrusted nodes (fog device add-untrusted)
    forgets: int = 0  # forgotten versions waiting to be published there (fog forget while it was down)
    refused: str = ""  # reachable, but a push or pull refuses it (rolled back: its logs, its SyncConfig)
    undelivered: str = ""  # remove/set-url: why the old URL could not get the change (deliver_config, later)
    stranded: int = 0  # remove/set-url --force: versions it held that the other remotes still wait for
    stranded_at: str = ""  # the store URL those are on (the removed one, or the old one of a set-url)
    replaced: str = ""  # the URL this device added under this name, replaced by another device's add


def shared_remotes(ident: Identity, share: Share) -> dict[str, dict[str, Any]]:
    """The share's remote entries in this device's SyncConfig (removed ones included), with one per
    untrusted node of the user (fog.sync.nodes)."""
    return nodes.share_remote_entries(ident.cached_config(), share.config.share_id)


def list_remotes(share: Share, ident: Identity, *, probe: bool = True) -> list[RemoteInfo]:
    """Every remote of the share this device knows: used, overridden or skipped."""
    shared = {n: e for n, e in shared_remotes(ident, share).items() if not e.get("removed")}
    out: list[RemoteInfo] = []
    dups = duplicates(share.config.remotes)
    for name in sorted(shared.keys() | share.config.remotes.keys()):
        local = share.config.local_remotes.get(name, {})
        url = share.config.remotes.get(name) or str(local.get("url") or shared.get(name, {}).get("url", ""))
        shared_url = str(shared.get(name, {}).get("url", ""))
        info = RemoteInfo(name, url, len(share.db.pending(name)), skipped=bool(local.get("skip")))
        info.forgets = len(share.db.pending_forgets(name))
        info.kind, info.node = kind_of(url), bool(shared.get(name, {}).get("node"))
        info.replaced = replaced_url(share, name)
        if shared_url and shared_url != url:
            info.shared_url = shared_url
        if name in dups:
            info.reachable, info.error = False, f"the same store as remote {dups[name]}: not used"
        elif probe and not info.skipped:
            info.reachable, info.error, info.refused = _probe(url, ident, _own_log(share, ident, name), name)
            if info.reachable and not info.refused:
                info.refused = _refusal(share, ident, url, name)
        out.append(info)
    return out


def _refusal(share: Share, ident: Identity, url: str, name: str) -> str:
    """Why a push or pull would refuse a reachable remote as rolled back, with what to do ("" if it would
    not): SyncConfig versions seen there before are gone (fog.sync.keyring.refresh_config), or another
    device's log there ends before the batch last read (fog.sync.logs.read_log). Reads, changes nothing;
    a remote another device added again (a new instance) is not refused: the next pull renews it here."""
    cached, merged = ident.cached_state()
    try:
        backend = open_remote(url, ident)
    except (RemoteError, UsageError):
        return ""
    node = nodes.is_node_url(url)
    try:
        remote = Remote(backend)
        found, names = remote.load_config(ident.master_key, known=merged if cached else frozenset(), base=cached)
        config = found or cached
        if config is not None and keyring.readded(share, config, name):
            return ""
        seen = set(json.loads(share.db.get_meta(config_seen_key(name)) or b"[]"))
        place = f"config/{config_keys(ident.master_key)[0]}/"
        gone = {n for n in seen if n.startswith(place)} - set(names) - set(found.supersedes if found else ())
        if gone:
            return (
                f"{len(gone)} fog settings version(s) seen before are gone from it: the remote was rolled back "
                f"(restored from an older copy?); " + rollback_advice(name, node=node)
            )
        keys = ident.share_keys(share.config.share_id)
        logs = share.db.cursor_logs(name)
        listed = remote.share(keys).list_logs() if logs else {}
        for log in logs:
            seen_seq = share.db.cursor(name, log)[0]
            top = max(listed.get(log, [0]))
            if top < seen_seq:
                return (
                    f"log {log[:16]} on it ends at batch {top}, but batch {seen_seq} was seen before: the remote "
                    f"was rolled back (restored from an older copy?); " + rollback_advice(name, node=node)
                )
        return ""
    except KeysRotated:
        return ""  # (a pull follows it)
    except IntegrityError as exc:
        return str(exc)
    except (RemoteError, FogError):
        return ""
    finally:
        backend.close()


def _own_log(share: Share, ident: Identity, name: str) -> tuple[ShareKeys, str, int] | None:
    """(keys, this device's log name, the last batch of it seen on remote `name`), if it has one there."""
    try:
        keys = ident.share_keys(share.config.share_id)
    except FogError:
        return None
    log = device_log_name(keys.share_id, ident.device_public)
    seen = share.db.cursor(name, log)[0]
    return (keys, log, seen) if seen else None


def _probe(
    url: str, ident: Identity, own: tuple[ShareKeys, str, int] | None = None, name: str = ""
) -> tuple[bool, str, str]:
    """(reachable, why not, why a push refuses it): with `own`, one LIST of this device's log there
    tells a remote restored from an old copy (its log ends before the batch last seen)."""
    try:
        backend = open_remote(url, ident)
    except (RemoteError, UsageError) as exc:
        return False, str(exc), ""
    try:
        remote = Remote(backend)
        remote.require_marker()
        if own is not None:
            keys, log, seen = own
            top = max(remote.share(keys).list_logs(only=log).get(log, [0]))
            if top < seen:
                return True, "", rolled_back_text(name, top, seen, node=nodes.is_node_url(url))
        return True, "", ""
    except RemoteError as exc:
        return False, str(exc), ""
    finally:
        backend.close()


def add_remote(share: Share, ident: Identity, name: str, url: str, options: dict[str, str] | None = None) -> RemoteInfo:
    if not _NAME.match(name):
        raise UsageError(f"remote name {name!r}: use letters, digits, '.', '_' and '-'")
    shared = {n: e for n, e in shared_remotes(ident, share).items() if not e.get("removed")}
    if name in share.config.remotes or name in shared:
        raise FogError(
            f"a remote named {name!r} exists already ({share.config.remotes.get(name) or shared[name]['url']})"
        )
    _refuse_taken(share, shared, url)
    if nodes.is_node_url(url):
        raise UsageError(
            f"{url} names an untrusted node: add it with `fog device add-untrusted NAME --address "
            "HOST:PORT --key NODEKEY` (it then stores every share)"
        )
    refuse_inside(url, share.top)
    backend = open_remote(url, ident, create=True, options=options)
    try:
        remote = Remote(backend)
        remote.initialize()
        found, _ = keyring.load_config(remote, ident)
        config = merged_config(ident, found)
        # a new instance: every device drops what it remembers of a store added under this name before
        # (a remote removed and added again, at the same URL, is accepted as it is now: keyring.renew_if_readded)
        entry = {"url": url, "kind": kind_of(url), "instance": secrets.token_hex(16)}
        config = with_remote(config, share.config.share_id, name, entry)
        remote.put_config(ident, config)
    finally:
        backend.close()
    # used here first (its whole history queued), then published on every remote, the new one among
    # them: with every other remote down, the change still lands there, and this device still fills it
    _use(share, name, url)
    share.db.put_meta(remote_instance_key(name), str(entry["instance"]).encode())
    added = (config.shares.get(share.config.share_id, {}).get("remotes", {}).get(name) or {}).get("added")
    share.db.put_meta(ADDED + name, str(added or 0).encode())
    for other in list(_replaced(share)):
        if store_key(_replaced(share)[other]["url"]) == store_key(url):
            _clear_replaced(share, other)  # (added again under another name: what the note said to do)
    publish_config(share, ident, config)
    keyring.record_held(share, ident, [name], config)  # (after _use: a name new here starts afresh)
    return RemoteInfo(name, url, len(share.db.pending(name)), kind=kind_of(url))


def only_on(share: Share, name: str) -> tuple[set[bytes], list[str]]:
    """(the versions this device knows are published on remote `name` and still wait for every other remote
    this device queues for, those remotes): what removing `name` would leave on no other remote. With no
    other remote: every version published there (what pointing `name` at another store would leave
    behind)."""
    queued = share.config.queued_remotes()
    others = [n for n in queued if n != name]
    if name not in queued:
        return set(), others
    if not others:
        mine = set(share.db.pending(name))
        return {v.id for v in share.db.all_versions() if v.id not in mine}, others
    waiting = set(share.db.pending(others[0]))
    for other in others[1:]:
        if not waiting:
            break
        waiting &= set(share.db.pending(other))
    return waiting - set(share.db.pending(name)), others


def remove_remote(share: Share, ident: Identity, name: str, *, force: bool = False) -> RemoteInfo:
    """Remove a remote for every device (its data stays where it is).

    Refused while it holds versions no other remote has been given yet (the
    others' catch-up copies them from it: `fog push` first), unless `force`.
    """
    shared = {n: e for n, e in shared_remotes(ident, share).items() if not e.get("removed")}
    pending = undelivered(share)
    if name not in share.config.remotes and name not in shared and name in pending.values():
        # removed already, its removal still waiting to reach the old store (deliver_config): removed again,
        # this device stops trying (a disk lost for good)
        left = {u: n for u, n in pending.items() if n != name}
        with share.db.write() as txn:
            if left:
                share.db.set_meta(txn, UNDELIVERED, json.dumps(left, sort_keys=True).encode())
            else:
                share.db.drop_meta(txn, UNDELIVERED)
        return RemoteInfo(name, ", ".join(sorted(u for u, n in pending.items() if n == name)), 0)
    if name not in share.config.remotes and name not in shared:
        raise FogError(f"no remote named {name!r}")
    _not_a_node(shared, name, f"`fog device remove {name}`")
    if not (set(shared) | set(share.config.remotes)) - {name}:
        raise FogError("cannot remove the only remote of a share")
    if not set(share.config.remotes) - {name}:
        skipped = ", ".join(sorted(set(shared) - {name}))
        raise FogError(
            f"{name} is the only remote this device uses (it skips {skipped}): `fog remote unskip` one first"
        )
    left, others = only_on(share, name)
    alone = len(left)
    if alone and not force:
        raise FogError(
            f"{alone} version(s) are on remote {name} and not yet on {', '.join(others)}: removed now, they "
            f"would be on no remote once its data goes; run `fog push` with {name} and {', '.join(others)} "
            f"reachable first (it copies them over from {name}), or `fog remote remove {name} --force` "
            "to remove it anyway"
        )
    url = share.config.remotes.get(name) or str(shared[name]["url"])
    entry = dict(shared.get(name) or {"url": url, "kind": kind_of(url)})
    config = with_remote(_current(ident), share.config.share_id, name, {**entry, "removed": time.time_ns()})
    # published on the removed remote too (skipped here or not): a device that reads only that one must
    # learn it; if it is down, this device delivers it there later (deliver_config)
    old = _old_urls(share, shared, name)
    failed: dict[str, str] = {}
    publish_config(share, ident, config, also=old, failed=failed)
    why = _queue_delivery(share, name, old, failed)
    record_stranded(share, name, url, left)  # (their paths' later versions wait behind them)
    _drop(share, name)
    _clear_replaced(share, name)
    share.config.local_remotes.pop(name, None)
    share.save_config()
    return RemoteInfo(
        name,
        url,
        0,
        undelivered=why,
        kind=str(entry.get("kind") or kind_of(url)),
        stranded=alone,
        stranded_at=url if alone else "",
    )


def renew_remote(share: Share, ident: Identity, name: str) -> RemoteInfo:
    """Accept remote `name` as it is now, for every device (a store restored from an older copy, refused
    as rolled back at every run): its entry gets a new `instance` in the SyncConfig, so every device that
    learns it forgets what it read there and publishes its versions there again (keyring.renew_if_readded),
    this one first. What `remote remove` then `remote add` of the same URL do, also for a share's only
    remote (which `remote remove` refuses)."""
    shared = {n: e for n, e in shared_remotes(ident, share).items() if not e.get("removed")}
    if name not in shared and name not in share.config.remotes:
        raise FogError(f"no remote named {name!r}")
    _not_a_node(
        shared, name, f"`fog device remove {name}`, then `fog serve` on a new directory and `fog device add-untrusted`"
    )
    url = str((shared.get(name) or {}).get("url") or share.config.remotes[name])
    entry = dict(shared.get(name) or {"url": url, "kind": kind_of(url)})
    instance = secrets.token_hex(16)
    config = with_remote(_current(ident), share.config.share_id, name, {**entry, "instance": instance})
    # forgotten here first, as every other device does when it learns the new instance: its whole
    # history queued, then the change published (on the renewed remote too: its readers learn it there)
    share.db.forget_remote(name)
    keyring.queue_all(share, name)
    share.db.put_meta(remote_instance_key(name), instance.encode())
    keyring.reread_tree(share)
    publish_config(share, ident, config)
    here = share.config.remotes.get(name) or url
    return RemoteInfo(name, here, len(share.db.pending(name)), kind=kind_of(here))


def set_url(
    share: Share, ident: Identity, name: str, url: str | None, *, local: bool, force: bool = False
) -> RemoteInfo:
    """Change a remote's URL for every device, or (`local`) on this device only; `url=None`
    with `local` drops this device's override.

    For every device, the new store is made (as `remote add` makes one) if it is new; pointing
    the name at a store that lacks versions only the old one holds (`only_on`) is refused
    unless `force` (they are then remembered as stranded: fog.sync.stranded)."""
    shared = {n: e for n, e in shared_remotes(ident, share).items() if not e.get("removed")}
    if name not in shared and name not in share.config.remotes:
        raise FogError(f"no remote named {name!r}")
    if url is not None:
        refuse_inside(url, share.top)
        _refuse_taken(share, shared, url, but=name)  # (one store under two names: the second is never used)
    overrides = share.config.local_remotes
    why = ""  # why the old URL could not get the change (published for every device)
    left: set[bytes] = set()
    before = share.config.remotes.get(name)
    if not local:
        _not_a_node(shared, name, f"`fog device set-address {name} ADDRESS`")
    if local:
        if url is None:
            overrides.pop(name, None)
        else:
            overrides[name] = {"url": url}
    else:
        assert url is not None
        left = _left_behind(share, ident, name, url, force=force)
        _make_store(url, ident)  # (a new store: as `remote add` makes it; pushes would fail "not a fog store")
        entry = dict(shared.get(name) or {})
        config = with_remote(_current(ident), share.config.share_id, name, {**entry, "url": url, "kind": kind_of(url)})
        old = [u for u in _old_urls(share, shared, name) if store_key(u) != store_key(url)]
        failed: dict[str, str] = {}
        publish_config(share, ident, config, also=[url, *old], failed=failed)  # the old URL and the new one learn it
        why = _queue_delivery(share, name, old, failed)  # (the new URL is used from now on: pushes fill it)
    _clear_replaced(share, name)  # (the user dealt with it: the note said to set the URL here)
    effective = _effective(share, ident)
    if name in effective:
        # --local says: the same store, reached another way here; what was read there stays valid
        _use(share, name, effective[name], same_store=local)
    share.save_config()
    if left and before is not None:
        record_stranded(share, name, before, left)  # (their paths' later versions wait behind them)
    info = next(i for i in list_remotes(share, ident, probe=False) if i.name == name)
    info.undelivered, info.stranded, info.stranded_at = why, len(left), (before or "") if left else ""
    return info


def _left_behind(share: Share, ident: Identity, name: str, url: str, *, force: bool) -> set[bytes]:
    """The versions that only the store remote `name` is now at holds, when pointing it at `url` (another
    store, which holds no copy of it) would leave them on no remote this device uses: refused unless `force`
    (then returned). A store this device does not use here (skipped, or its own URL) leaves nothing."""
    here = share.config.remotes.get(name)
    if here is None or share.config.local_remotes.get(name, {}).get("url") or store_key(here) == store_key(url):
        return set()
    left, others = only_on(share, name)
    if not left or holds_copy(share, ident, name, url):
        return set()
    if force:
        return left
    if others:
        raise FogError(
            f"{len(left)} version(s) are on remote {name} ({here}) and not yet on {', '.join(others)}, and {url} "
            f"holds no copy of {here}: pointed there, {name} would leave them on no remote once {here} goes; "
            f"run `fog push` with {name} and {', '.join(others)} reachable first (it copies them over), or "
            f"`fog remote set-url {name} {url} --force` to change it anyway"
        )
    raise FogError(
        f"{url} holds no copy of {here}, where remote {name}, this share's only remote, holds {len(left)} "
        f"version(s): pointed there, {name} would leave them on no remote once {here} goes; to move the share "
        f"to a new store, `fog remote add NEWNAME {url}`, `fog push` (it copies the history over), then "
        f"`fog remote remove {name}`; or `fog remote set-url {name} {url} --force` to change it anyway"
    )


def holds_copy(share: Share, ident: Identity, name: str, url: str) -> bool:
    """Whether the store at `url` holds a copy of what this device read on remote `name` (the same store
    under another address, or its data copied there): every log it read there, at least that far. One
    LIST of the logs; False when `url` cannot be read."""
    logs = share.db.cursor_logs(name)
    if not logs:
        return False
    try:
        keys = ident.share_keys(share.config.share_id)
        backend = open_remote(url, ident)
    except FogError:
        return False
    try:
        remote = Remote(backend)
        remote.require_marker()
        listed = remote.share(keys).list_logs()
    except FogError:
        return False
    finally:
        backend.close()
    return all(max(listed.get(log) or [0]) >= share.db.cursor(name, log)[0] for log in logs)


def _make_store(url: str, ident: Identity) -> None:
    """Make a fog store at `url` if it holds none yet (`remote add` does the same); refuse a place that
    holds something else. An untrusted node's spaces are made by the node."""
    if nodes.is_node_url(url):
        return
    backend = open_remote(url, ident, create=True)
    try:
        Remote(backend).initialize()
    finally:
        backend.close()


def skip(share: Share, ident: Identity, name: str, skipped: bool) -> RemoteInfo:
    """Leave a remote to the devices that reach it (or use it again) on this device only."""
    known = set(shared_remotes(ident, share)) | set(share.config.remotes)
    if name not in known:
        raise FogError(f"no remote named {name!r}")
    if skipped:
        if set(share.config.remotes) == {name}:
            raise FogError(f"{name} is the only remote this device uses; it cannot skip it")
        share.config.local_remotes[name] = {**share.config.local_remotes.get(name, {}), "skip": True}
        _drop(share, name, keep_state=True)  # its queue and cursors wait for unskip
    else:
        local = {k: v for k, v in share.config.local_remotes.pop(name, {}).items() if k != "skip"}
        if local:
            share.config.local_remotes[name] = local  # its own URL stays
        effective = _effective(share, ident)
        if name in effective:
            _use(share, name, effective[name], queue=False, same_store=True)  # its queue grew while skipped
    share.save_config()
    return next(i for i in list_remotes(share, ident, probe=False) if i.name == name)


def _refuse_taken(share: Share, shared: dict[str, dict[str, Any]], url: str, *, but: str = "") -> None:
    """FogError when `url` names the store of another remote of the share (another spelling included)."""
    key = store_key(url)
    overrides = {n: str(e["url"]) for n, e in share.config.local_remotes.items() if e.get("url")}
    for other, other_url in [
        *share.config.remotes.items(),
        *((n, str(e.get("url"))) for n, e in shared.items()),
        *overrides.items(),
    ]:
        if other != but and store_key(other_url) == key:
            raise FogError(f"{url} is already a remote of this share ({other})")


def refuse_inside(url: str, top: str | Path) -> None:
    """A local remote inside the share it stores would be pushed into itself, growing at every push; one
    inside another share (a directory with `.fog/` above it) would be pushed by that share, and its
    pulls would see the store's files come and go."""
    from fog.backends.local import inside, local_path
    from fog.repo.history import find_root

    if inside(url, top):
        raise UsageError(f"the remote {url} is inside the share it stores ({top}): choose a directory outside it")
    path = local_path(url)
    outer = find_root(str(path)) if path is not None else None
    if outer is not None:
        raise UsageError(
            f"the remote {url} is inside the fog share {outer}: that share would push this one's store; "
            "choose a directory outside every share"
        )


# -- a change the old URL of a remote must still get ----------------------------------------


def _old_urls(share: Share, shared: dict[str, dict[str, Any]], name: str) -> list[str]:
    """The URLs a remote that is removed or moved was reached at: this device's and the shared one (the
    devices that read only that remote use it there)."""
    urls = [u for u in (share.config.remotes.get(name), str((shared.get(name) or {}).get("url") or "")) if u]
    return list(dict.fromkeys(urls))


def _queue_delivery(share: Share, name: str, urls: list[str], failed: dict[str, str]) -> str:
    """Remember the old URLs the change could not be put on (publish_config names a failed remote by its
    name, an `also` URL by itself); deliver_config puts it there later. Returns why, or "" if none failed."""
    keys = {store_key(u): u for u in urls}
    used = share.config.remotes
    missed = {keys[store_key(used.get(k, k))]: why for k, why in failed.items() if store_key(used.get(k, k)) in keys}
    if missed:
        pending = undelivered(share)
        pending.update({u: name for u in missed})
        share.db.put_meta(UNDELIVERED, json.dumps(pending, sort_keys=True).encode())
    return "; ".join(dict.fromkeys(missed.values()))


def undelivered(share: Share) -> dict[str, str]:
    """URL -> remote name: where a `remote remove` or `set-url` of this device could not put the change yet."""
    try:
        found = json.loads(share.db.get_meta(UNDELIVERED) or b"{}")
    except ValueError:
        return {}
    return {str(u): str(n) for u, n in found.items()} if isinstance(found, dict) else {}


def deliver_config(share: Share, ident: Identity) -> list[str]:
    """Put this device's SyncConfig on each old URL a `remote remove` or `set-url` could not reach (it was
    down): the devices that read only that store learn the change from it, instead of syncing apart from
    the others for good. Best effort, after a push, pull or sync; a URL that fails stays for the next.
    Returns the names of the remotes delivered."""
    pending = undelivered(share)
    config = ident.cached_config()
    if not pending or config is None:
        return []
    done: list[str] = []
    for url in sorted(pending):
        try:
            if _put_config_at(url, ident, config) is None:
                done.append(url)
        except UsageError:
            continue  # (a URL this fog cannot open: left as it is)
    if done:
        left = {u: n for u, n in pending.items() if u not in done}
        with share.db.write() as txn:
            if left:
                share.db.set_meta(txn, UNDELIVERED, json.dumps(left, sort_keys=True).encode())
            else:
                share.db.drop_meta(txn, UNDELIVERED)
    return [pending[u] for u in done]


def _not_a_node(shared: dict[str, dict[str, Any]], name: str, instead: str) -> None:
    if (shared.get(name) or {}).get("node"):
        raise UsageError(f"remote {name} is an untrusted node of this user: use {instead}")


# -- the SyncConfig side -------------------------------------------------------------------


def _current(ident: Identity) -> SyncConfig:
    return ident.cached_config() or SyncConfig(ident.user_json())


def with_remote(config: SyncConfig, share_id: str, name: str, entry: dict[str, Any]) -> SyncConfig:
    """The config with one remote entry of one share replaced (stamped `updated` now)."""
    now = time.time_ns()
    shares = dict(config.shares)
    share = dict(shares.get(share_id) or {})
    remotes = dict(share.get("remotes") or {})
    old = remotes.get(name) or {}
    # never older than what it replaces: a device whose clock runs behind still gets its change through
    updated = max(now, int(old.get("updated") or 0) + 1)
    remotes[name] = {"removed": 0, **entry, "added": old.get("added") or now, "updated": updated}
    if not entry.get("removed"):
        remotes[name]["removed"] = 0
    share["remotes"] = remotes
    shares[share_id] = share
    return config.with_(shares=shares)


def publish_config(
    share: Share,
    ident: Identity,
    config: SyncConfig,
    also: list[str] | None = None,
    *,
    failed: dict[str, str] | None = None,
    cache_if_nowhere: bool = True,
) -> list[str]:
    """Put a SyncConfig version on every remote this device uses (and the `also` URLs); cache it.
    Returns where it landed; fails only if it landed nowhere (no device could learn the change).
    Each remote that failed is named in `failed` (when given), and one named there already for refused
    data (fog.errors.Refused) is left out: it is not used by this command. `cache_if_nowhere=False`
    leaves the cached copy alone when the version landed nowhere."""
    landed: list[str] = []
    errors: list[str] = []
    targets = sorted(share.config.remotes.items())
    known = {store_key(u) for _, u in targets}
    targets += [(u, u) for u in also or () if store_key(u) not in known]
    for name, url in targets:
        if failed is not None and isinstance(failed.get(name), Refused):
            continue
        error = _put_config_at(url, ident, config)
        if error is None:
            landed.append(name)
            continue
        errors.append(f"{name}: {error}")
        if failed is not None:
            failed.setdefault(name, error)
    cached: OSError | None = None
    if landed or cache_if_nowhere:
        try:
            ident.cache_config(config)
        except OSError as exc:
            if not landed:
                raise
            cached = exc  # published: said once the rest is done
    keyring.record_held(share, ident, landed, config)
    if cached is not None:
        raise FogError(
            f"the change was published on {', '.join(landed)} (every device sees it), but this device could not "
            f"cache it: {cached.strerror or cached}{f': {cached.filename}' if cached.filename else ''}; once that is "
            "fixed, `fog pull` caches it"
        )
    if not landed and share.config.remotes:
        raise RemoteError("the change could not be published on any remote: " + "; ".join(errors))
    return landed


def _put_config_at(url: str, ident: Identity, config: SyncConfig) -> str | None:
    """Put a SyncConfig version on the store at `url`; None when it landed, else why not."""
    try:
        backend = open_remote(url, ident, config=config)
    except RemoteError as exc:
        return str(exc)
    try:
        remote = Remote(backend)
        remote.require_marker()
        remote.put_config(ident, config)
        return None
    except RemoteError as exc:
        return str(exc)
    finally:
        backend.close()


def fresh_config(
    share: Share, ident: Identity, failed: dict[str, str], *, refused_ok: bool = False
) -> tuple[SyncConfig, list[str]]:
    """This device's SyncConfig merged with what each remote it uses holds now: the base for a
    change another device may have made first. Returns (config, the remotes read); each remote
    that could not be read is named in `failed`. Refused data (IntegrityError) is raised, or with
    `refused_ok` that remote is named in `failed` too (a Refused reason) and left out."""
    cached, merged = ident.cached_state()
    config = cached or SyncConfig(ident.user_json())
    read: list[str] = []
    for name, url in sorted(share.config.remotes.items()):
        try:
            backend = open_remote(url, ident)
        except RemoteError as exc:
            failed[name] = str(exc)
            continue
        try:
            remote = Remote(backend)
            remote.require_marker()
            # versions the cached copy holds merged already are not fetched again (fog.sync.pull)
            found, _ = keyring.load_config(remote, ident, known=merged if cached else frozenset(), base=cached)
            if found is not None:
                # a key rotation followed on this remote moves the place: what came before is the old one's
                same = (config.user, config.rotation) == (found.user, found.rotation)
                config = config.merge(found) if same else found
            read.append(name)
        except IntegrityError as exc:  # refused data, not an unreachable remote
            if not refused_ok:
                raise
            failed[name] = Refused(str(exc))
        except RemoteError as exc:
            failed[name] = str(exc)
        finally:
            backend.close()
    return config, read


def _effective(share: Share, ident: Identity, listed: dict[str, Any] | None = None) -> dict[str, str]:
    """name -> URL of the remotes this device should use, from the SyncConfig and its overrides."""
    out: dict[str, str] = {}
    for name, e in (shared_remotes(ident, share) if listed is None else listed).items():
        if e.get("removed"):
            continue
        local = share.config.local_remotes.get(name, {})
        if local.get("skip"):
            continue
        out[name] = str(local.get("url") or e.get("url"))
    return out


def _use(share: Share, name: str, url: str, *, queue: bool = True, same_store: bool = False) -> None:
    """Start using a remote on this device: every version it knows is queued for it. (Before
    this device's first batch there, what other devices' logs there carry is dropped from
    the queue: fog.sync.push.publish.) A URL that changes is treated as another store: what
    was known of the old one is forgotten, and this device's own log there is adopted again."""
    old = share.config.remotes.get(name)
    if old != url and not same_store:  # (also a name new here: nothing of an earlier store under it)
        share.db.forget_remote(name)
    share.config.remotes[name] = url
    share.save_config()
    if queue and old != url and not (same_store and old is not None):
        keyring.queue_all(share, name)


ADDED = "remote-added\0"  # meta: NAME -> the `added` stamp of the entry this device's `remote add` made
REPLACED = "remote-replaced\0"  # meta: NAME -> {url, now}: that entry lost to another device's add


def replaced_text(name: str, mine: str, now: str) -> str:
    """The one line a device whose `remote add NAME` lost to another device's, at the same time, reads."""
    return (
        f"remote {name} was also added on another device, as {now}, and that entry replaced this device's "
        f"({mine}) for every device: {mine} is no longer used. If it is the same store mounted here, "
        f"`fog remote set-url {name} {mine} --local`; if it is another one, `fog remote add OTHERNAME {mine}`"
    )


def _replaced(share: Share) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name in share.config.remotes:
        raw = share.db.get_meta(REPLACED + name)
        if raw:
            try:
                doc = json.loads(raw)
                out[name] = {"url": str(doc["url"]), "now": str(doc["now"])}
            except (ValueError, KeyError, TypeError):
                continue
    return out


def replaced_url(share: Share, name: str) -> str:
    """This device's URL that another device's concurrent `remote add NAME` replaced ("" if none)."""
    entry = _replaced(share).get(name)
    return entry["url"] if entry and entry["now"] == share.config.remotes.get(name) else ""


def _clear_replaced(share: Share, name: str) -> None:
    if share.db.get_meta(REPLACED + name) is not None:
        with share.db.write() as txn:
            share.db.drop_meta(txn, REPLACED + name)


def _drop(share: Share, name: str, *, keep_state: bool = False) -> None:
    share.config.remotes.pop(name, None)
    share.save_config()
    if not keep_state:
        share.db.forget_remote(name)


@dataclass
class Reconciled:
    added: list[str]
    removed: list[str]
    changed: list[str]
    published: list[str]  # remotes this device knew that the SyncConfig did not: now published
    stranded: list[str] = field(default_factory=list)  # removed elsewhere, but the last one used here
    renewed: list[str] = field(default_factory=list)  # added again elsewhere (same URL): accepted as it is now
    # added here and, at the same time, under the same name with another URL on another device, whose
    # entry won the merge: (name, this device's URL, the URL every device uses now)
    replaced: list[tuple[str, str, str]] = field(default_factory=list)
    # removed or moved elsewhere while this device had versions only that store holds, left queued here as
    # stranded (fog.sync.stranded): (name, the store's URL, how many, the URL it moved to; "" if removed)
    left: list[tuple[str, str, int, str]] = field(default_factory=list)


def left_text(name: str, url: str, count: int, now: str) -> str:
    """The one line a pull says once when another device's `remote remove` or `set-url` left versions that
    only the old store holds (Reconciled.left)."""
    change = f"moved to {now}" if now else "removed"
    again = f"`fog remote add {name} {url}` again" if not now else f"`fog remote add OTHERNAME {url}`"
    return (
        f"remote {name} was {change} on another device, but {count} version(s) this device published on {url} "
        "are on no other remote yet: they stay queued, and the later versions of their paths wait behind them; "
        f"keep that store's data: {again} lets a push copy them over (then `fog remote remove` it)"
    )


def reconcile(share: Share, ident: Identity, config: SyncConfig, reach: Remote | None = None) -> Reconciled:
    """Bring this device's remotes in line with the SyncConfig (after a pull refreshed it).

    Remotes this device has that the SyncConfig never listed (added by an
    older fog) are published into it first, on `reach` (the remote the pull
    read), so that no device loses track of them.
    """
    sid = share.config.share_id
    listed = nodes.share_remote_entries(config, sid)
    unlisted = {n: u for n, u in share.config.remotes.items() if n not in listed}
    result = Reconciled([], [], [], [])
    if unlisted:
        for name, url in sorted(unlisted.items()):
            config = with_remote(config, sid, name, {"url": url, "kind": kind_of(url)})
        try:
            if reach is None:
                raise RemoteError("no remote to publish on")
            reach.put_config(ident, config)
            ident.cache_config(config)  # cached only once published: otherwise the next pull tries again
            result.published = sorted(unlisted)
        except RemoteError:
            pass  # (a read-only remote) this device keeps using them; another pull publishes them
        listed = {**listed, **nodes.share_remote_entries(config, sid)}
    effective = _effective(share, ident, listed)
    skipped = {n for n, e in share.config.local_remotes.items() if e.get("skip")}
    live = {n for n, e in listed.items() if not e.get("removed")}
    for name in sorted(skipped - live):  # skipped here, removed everywhere
        url = str(share.config.local_remotes[name].get("url") or (listed.get(name) or {}).get("url") or "")
        _note_left(share, result, name, url)
        share.config.local_remotes.pop(name, None)
        share.db.forget_remote(name)
        share.save_config()
    for name in sorted(set(share.config.remotes) - set(effective)):
        if name in skipped or name in unlisted:
            continue
        # the last one this device would use (counting those the SyncConfig adds, below): it would be cut off
        if not (set(share.config.remotes) | set(effective)) - skipped - {name}:
            result.stranded.append(name)
            continue
        result.removed.append(name)
        _note_left(share, result, name, share.config.remotes[name])
        _drop(share, name)
    for name, url in sorted(effective.items()):
        if name not in share.config.remotes:
            result.added.append(name)
        elif share.config.remotes[name] != url:
            result.changed.append(name)
            mine = share.db.get_meta(ADDED + name)
            if mine is not None:  # this device added the name: was its entry replaced by another add?
                with share.db.write() as txn:
                    share.db.drop_meta(txn, ADDED + name)
                if int(mine or b"0") != int(listed[name].get("added") or 0):  # (set-url keeps `added`)
                    old_url = share.config.remotes[name]
                    result.replaced.append((name, old_url, url))
                    share.db.put_meta(REPLACED + name, json.dumps({"url": old_url, "now": url}).encode())
        else:
            continue
        # a node that moved is the same store (its key names it): what was read there stays valid
        moved = (
            bool(listed[name].get("node"))
            and name in share.config.remotes
            and nodes.is_node_url(share.config.remotes[name])
        )
        before = share.config.remotes.get(name)
        if before is not None and not moved and store_key(before) != store_key(url):
            _note_left(share, result, name, before, url, ident)
        _use(share, name, url, same_store=moved)  # a new store for this name: its state starts afresh
    for name in sorted(effective):
        if keyring.renew_if_readded(share, config, name):
            result.renewed.append(name)
    return result


def _note_left(
    share: Share, result: Reconciled, name: str, url: str, now: str = "", ident: Identity | None = None
) -> None:
    """Before this device stops using the store of remote `name` (removed, or moved to `now` by another
    device): the versions only it holds are remembered as stranded, and said once (Reconciled.left). A new
    store that holds a copy of the old one (`ident` given: it is checked) leaves nothing behind."""
    left, _ = only_on(share, name)
    if not left or (now and ident is not None and holds_copy(share, ident, name, now)):
        return
    record_stranded(share, name, url, left)
    result.left.append((name, url, len(left), now))
