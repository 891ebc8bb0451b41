"""A device's entry in the user's SyncConfig: made at init or clone, published where it is missing.

Other devices accept a device's event batches only when the SyncConfig on
that remote lists the device. A clone from a read-only remote cannot publish
the entry, so the device's first batch on a remote first makes sure the
remote's SyncConfig lists it.
"""

from __future__ import annotations

from fog.format.syncconfig import SyncConfig
from fog.repo.identity import Identity
from fog.store import Remote
from fog.sync import keyring


def merged_config(ident: Identity, found: SyncConfig | None) -> SyncConfig:
    """This device's view of the SyncConfig merged with a remote's (`found`), this device included."""
    config = ident.cached_config() or SyncConfig(ident.user_json())
    if found is not None:
        config = config.merge(found)
    if ident.device_id in config.devices:
        return config
    devices = dict(config.devices)
    devices[ident.device_id] = ident.device_entry()
    return config.with_(devices=devices)


def ensure_listed(ident: Identity, remote: Remote) -> bool:
    """Publish a SyncConfig listing this device on `remote` unless it lists it already; True if published."""
    found, _ = keyring.load_config(remote, ident)
    cached = ident.cached_config()
    known = {ident.device_id, *(cached.devices if cached is not None else ())}
    if found is not None and known <= found.devices.keys():
        return False  # (it must also list every device whose versions this one relays there)
    config = merged_config(ident, found)
    remote.put_config(ident, config)
    ident.cache_config(config)
    return True
