"""Devices in the SyncConfig: list, revoke, rename, and the untrusted nodes (add-untrusted, remove,
set-address). Every change is a new SyncConfig version, merged by readers, so concurrent edits all
survive."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fog.crypto.keys import device_id, device_log_name
from fog.errors import FogError, Refused, RemoteError, UsageError, none_left
from fog.format import names as naming
from fog.format.syncconfig import SyncConfig
from fog.store import Remote
from fog.sync import keyring, nodes
from fog.sync.context import Context
from fog.sync.keyring import RotationResult
from fog.sync.pull import refresh_config


@dataclass
class DeviceInfo:
    id: str
    name: str
    trusted: bool
    revoked: bool
    this_device: bool
    last_batch: int  # highest batch of this device seen in this share (0: none)
    added_ns: int
    node: bool = False  # an untrusted node (fog serve): stores ciphertext, holds no key
    address: str = ""  # a node's address (HOST:PORT or a fog+ssh:// URL)
    url: str = ""  # a node's remote URL (fog://HOST:PORT)
    space: str = ""  # a node: the user's space there, once known
    removed: bool = False  # a node removed with `fog device remove`


def list_devices(ctx: Context) -> list[DeviceInfo]:
    config = refresh_config(ctx)
    return [_info(ctx, config, did) for did in sorted(config.devices, key=lambda k: config.devices[k].get("name", ""))]


def _info(ctx: Context, config: SyncConfig, did: str) -> DeviceInfo:
    d = config.devices[did]
    log = device_log_name(ctx.keys.share_id, bytes.fromhex(d["public"]))
    seq, _ = ctx.share.db.cursor(ctx.remote_name, log)
    node = nodes.is_node(d)
    return DeviceInfo(
        did,
        d.get("name", did[:8]),
        d.get("trusted", True) is True,
        bool(d.get("revoked")) or did in config.revoked_by_rotation,
        did == ctx.ident.device_id,
        seq,
        int(d.get("added", 0)),
        node,
        str(d.get("address", "")) if node else "",
        nodes.node_url(str(d["address"])) if node else "",
        str(d.get("space", "")) if node else "",
        bool(d.get("removed")),
    )


def find_device(config: SyncConfig, name: str) -> str:
    """A device id from its name or an id prefix (>= 4 hex); unique or an error."""
    hits = [did for did, d in config.devices.items() if d.get("name") == name]
    if not hits and len(name) >= 4:
        hits = [did for did in config.devices if did.startswith(name.lower())]
    live = [did for did in hits if not config.devices[did].get("removed") and did not in config.revoked_by_rotation]
    if len(hits) > 1 and len(live) == 1:  # a removed node's (or a revoked device's) name given to a new one
        hits = live
    if not hits:
        raise FogError(f"no device named {name!r} (see 'fog device list')")
    if len(hits) > 1:
        raise FogError(f"{len(hits)} devices are named {name!r}; use the device id instead")
    return hits[0]


def _update(ctx: Context, config: SyncConfig, did: str, changes: dict[str, Any]) -> SyncConfig:
    devices = dict(config.devices)
    devices[did] = {**devices[did], **changes, "updated": time.time_ns()}
    new = config.with_(devices=devices)
    ctx.remote.put_config(ctx.ident, new)
    ctx.ident.cache_config(new)
    return new


def revoke(ctx: Context, name: str) -> RotationResult:
    """Revoke a device: rotate every key it knows, so that it reads nothing pushed from now on."""
    config = refresh_config(ctx)
    did = find_device(config, name)
    if did == ctx.ident.device_id:
        raise UsageError("a device cannot revoke itself; revoke it from another trusted device")
    if nodes.is_node(config.devices[did]):
        raise UsageError(f"{name} is an untrusted node: it holds no key to revoke; `fog device remove {name}` drops it")
    if did in config.revoked_by_rotation:
        raise UsageError(f"device {name!r} is revoked already")
    result = keyring.rotate(ctx.share, ctx.ident, revoke={did})
    ctx.rekey(ctx.ident.cached_config() or config)
    _hand_rosters(ctx, result)
    return result


def _hand_rosters(ctx: Context, result: RotationResult) -> None:
    """After a rotation, every node learns the new device list (signed by the new user key, with the
    handover from the old one): the revoked device's key and the old join key stop opening it."""
    update = nodes.update_rosters(ctx.ident)
    result.nodes_failed = update.failed


def rotate(ctx: Context, keep: list[str] | None = None) -> RotationResult:
    """Rotate every key of the user; with `keep`, every other device is revoked.

    For a lost or stolen device whose name is not known: keep the devices in
    hand, and every other one is left behind.
    """
    config = refresh_config(ctx)
    revoke: set[str] = set()
    if keep:
        kept = {ctx.ident.device_id}
        for n in keep:
            did = find_device(config, n)
            d = config.devices[did]
            if did in config.revoked_by_rotation or d.get("revoked"):
                raise UsageError(f"device {n!r} is revoked already: it cannot be kept (see `fog device list`)")
            if nodes.is_node(d) or d.get("trusted", True) is not True:
                raise UsageError(f"device {n!r} is an untrusted node: it holds no key, --keep names trusted devices")
            kept.add(did)
        revoke = {
            did
            for did, d in config.devices.items()
            if did not in kept and did not in config.revoked_by_rotation and d.get("trusted", True) is True
        }
    result = keyring.rotate(ctx.share, ctx.ident, revoke=revoke)
    ctx.rekey(ctx.ident.cached_config() or config)
    _hand_rosters(ctx, result)
    return result


def rename(ctx: Context, name: str, new_name: str) -> DeviceInfo:
    naming.check_name("device name", new_name)
    config = refresh_config(ctx)
    mine = ctx.ident.device_id
    if config.devices.get(mine, {}).get("name") == name:
        did = mine  # two devices share the name (an older fog named both after the host): this one is meant
    else:
        did = find_device(config, name)
    if did in config.revoked_by_rotation:
        raise UsageError(f"device {name!r} is revoked; its entry no longer changes")
    if nodes.is_node(config.devices[did]):
        raise UsageError(f"{name} is an untrusted node: its name is its remote's name in every share, and stays")
    if not new_name.strip() or any(d.get("name") == new_name for d in config.devices.values()):
        raise UsageError(f"device name {new_name!r} is empty or already taken")
    _update(ctx, config, did, {"name": new_name})
    if did == ctx.ident.device_id:
        ctx.ident.rename(new_name)
    return next(d for d in list_devices(ctx) if d.id == did)


# -- untrusted nodes -----------------------------------------------------------------------------


@dataclass
class NodeChange:
    """What add-untrusted, remove and set-address did."""

    device: DeviceInfo
    published: list[str] = field(default_factory=list)  # remotes the new SyncConfig version is on
    failed: dict[str, str] = field(default_factory=dict)  # remotes (and nodes) that could not be written


def add_untrusted(ctx: Context, name: str, address: str, node_key: bytes) -> NodeChange:
    """Make a node (fog serve) one of the user's devices: untrusted, a remote of every share.

    Connects to it first with this device's key and the device list (so the node makes the user's
    space there, and says which), then publishes the SyncConfig version that lists it on every
    remote this device reaches, the node included.
    """
    address = nodes.check_address(address)
    failed: dict[str, str] = {}
    config = _fresh(ctx, failed)
    nodes.check_name(config, name, node_key)
    now = time.time_ns()
    did = device_id(node_key)
    entry: dict[str, Any] = {
        "name": name,
        "public": node_key.hex(),
        "trusted": False,
        "address": address,
        "revoked": 0,
        "removed": 0,
        "added": now,
        "updated": now,
    }
    config = config.with_(devices={**config.devices, did: entry})
    url = nodes.node_url(address)
    auth = nodes.Auth(ctx.ident.device_secret, node_key, None, nodes.roster_bytes(ctx.ident, config, node_key))
    backend = nodes.open_with(url, auth, create=True)
    try:
        space = getattr(backend, "space", None)
        if isinstance(space, str) and space:
            entry["space"] = space
            config = config.with_(devices={**config.devices, did: entry})
        Remote(backend).initialize(foreign_ok=True)  # (a node keeps a space per device: what it holds is its own)
    finally:
        backend.close()
    return _publish(ctx, config, did, failed)


def remove_node(ctx: Context, name: str) -> NodeChange:
    """Drop a node: it stops being a remote of every share (what it stores stays there)."""
    return _change_node(ctx, name, {"removed": time.time_ns()}, "is removed already", publish_on_it=True)


def set_address(ctx: Context, name: str, address: str) -> NodeChange:
    """A node moved (another host or port, same node key): every device reaches it there from its next
    pull; what was read from it stays valid (the same store)."""
    address = nodes.check_address(address)
    return _change_node(ctx, name, {"address": address}, "is removed; add a new one")


def _change_node(
    ctx: Context, name: str, fields: dict[str, Any], if_removed: str, *, publish_on_it: bool = False
) -> NodeChange:
    """Rewrite node `name`'s entry with `fields` (a newer `updated`) and publish it; a removed node is
    refused (`if_removed` says why). `publish_on_it`: also on the node itself, which the change drops."""
    failed: dict[str, str] = {}
    config = _fresh(ctx, failed)
    did = _node(config, name)
    e = config.devices[did]
    if e.get("removed"):
        raise UsageError(f"node {name!r} {if_removed}")
    changed = {**e, **fields, "updated": max(time.time_ns(), int(e.get("updated", 0)) + 1)}
    config = config.with_(devices={**config.devices, did: changed})
    also = [nodes.node_url(str(e["address"]))] if publish_on_it else None
    return _publish(ctx, config, did, failed, also=also)


def _node(config: SyncConfig, name: str) -> str:
    did = find_device(config, name)
    if not nodes.is_node(config.devices[did]):
        raise UsageError(f"{name} is a trusted device, not an untrusted node: `fog device revoke {name}` revokes it")
    return did


def _fresh(ctx: Context, failed: dict[str, str]) -> SyncConfig:
    """The SyncConfig merged from every remote this device reaches (refused when none can be read)."""
    from fog.sync import remotes as remotes_mod

    config, read = remotes_mod.fresh_config(ctx.share, ctx.ident, failed, refused_ok=True)  # (refused: left out)
    if not read:
        if any(isinstance(why, Refused) for why in failed.values()):
            raise none_left(failed)
        raise RemoteError("no remote of this share could be read: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return config


def _publish(
    ctx: Context, config: SyncConfig, did: str, failed: dict[str, str], also: list[str] | None = None
) -> NodeChange:
    """Write the version on every remote of every share this device reaches (nodes included), cache it,
    and bring this share's remotes in line with it."""
    from fog.backends.base import store_key
    from fog.sync import remotes as remotes_mod

    targets = keyring.all_targets(ctx.share, config)
    known = {store_key(u) for _, u in targets}
    targets += [(u, u) for u in also or () if store_key(u) not in known]
    published: list[str] = []
    for name, url in targets:
        if isinstance(failed.get(name), Refused):
            continue  # (its data was refused: not used by this command)
        try:
            backend = nodes.open_remote(url, ctx.ident, config=config)
        except RemoteError as exc:
            failed[name] = str(exc)
            continue
        try:
            remote = Remote(backend)
            remote.require_marker()
            remote.put_config(ctx.ident, config)
            published.append(name)
            failed.pop(name, None)
        except RemoteError as exc:
            failed[name] = str(exc)
        finally:
            backend.close()
    if not published:
        raise RemoteError("the change could not be published on any remote: " + "; ".join(failed.values()))
    ctx.ident.cache_config(config)
    remotes_mod.reconcile(ctx.share, ctx.ident, config)
    return NodeChange(_info(ctx, config, did), published, failed)
