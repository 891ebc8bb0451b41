"""Devices in the SyncConfig: list, revoke, rename. Every change is a new
SyncConfig version, merged by readers, so concurrent edits all survive."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fog.crypto.keys import device_log_name
from fog.errors import FogError, UsageError
from fog.format.syncconfig import SyncConfig
from fog.sync import keyring
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


def list_devices(ctx: Context) -> list[DeviceInfo]:
    config = refresh_config(ctx)
    out = []
    for did, d in sorted(config.devices.items(), key=lambda kv: kv[1].get("name", "")):
        log = device_log_name(ctx.keys.share_id, bytes.fromhex(d["public"]))
        seq, _ = ctx.share.db.cursor(ctx.remote_name, log)
        out.append(
            DeviceInfo(
                did,
                d.get("name", did[:8]),
                bool(d.get("trusted", True)),
                bool(d.get("revoked")) or did in config.revoked_by_rotation,
                did == ctx.ident.device_id,
                seq,
                int(d.get("added", 0)),
            )
        )
    return out


def find_device(config: SyncConfig, name: str) -> str:
    """A device id from its name or an id prefix (>= 4 hex); unique or an error."""
    hits = [did for did, d in config.devices.items() if d.get("name") == name]
    if not hits and len(name) >= 4:
        hits = [did for did in config.devices if did.startswith(name.lower())]
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
    if did in config.revoked_by_rotation:
        raise UsageError(f"device {name!r} is revoked already")
    result = keyring.rotate(ctx.share, ctx.ident, revoke={did})
    ctx.rekey(ctx.ident.cached_config() or config)
    return result


def rotate(ctx: Context, keep: list[str] | None = None) -> RotationResult:
    """Rotate every key of the user; with `keep`, every other device is revoked.

    For a lost or stolen device whose name is not known: keep the devices in
    hand, and every other one is left behind.
    """
    config = refresh_config(ctx)
    revoke: set[str] = set()
    if keep:
        kept = {find_device(config, n) for n in keep} | {ctx.ident.device_id}
        revoke = {
            did
            for did, d in config.devices.items()
            if did not in kept and did not in config.revoked_by_rotation and d.get("trusted", True) is True
        }
    result = keyring.rotate(ctx.share, ctx.ident, revoke=revoke)
    ctx.rekey(ctx.ident.cached_config() or config)
    return result


def rename(ctx: Context, name: str, new_name: str) -> DeviceInfo:
    config = refresh_config(ctx)
    mine = ctx.ident.device_id
    if config.devices.get(mine, {}).get("name") == name:
        did = mine  # two devices share the name (an older fog named both after the host): this one is meant
    else:
        did = find_device(config, name)
    if did in config.revoked_by_rotation:
        raise UsageError(f"device {name!r} is revoked; its entry no longer changes")
    if not new_name.strip() or any(d.get("name") == new_name for d in config.devices.values()):
        raise UsageError(f"device name {new_name!r} is empty or already taken")
    _update(ctx, config, did, {"name": new_name})
    if did == ctx.ident.device_id:
        ctx.ident.rename(new_name)
    return next(d for d in list_devices(ctx) if d.id == did)
