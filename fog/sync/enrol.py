"""A device's entry in the user's SyncConfig: made at init or clone, published where it is missing.

Other devices accept a device's event batches only when the SyncConfig on
that remote lists the device, with the signing key its batches verify under.
A clone from a read-only remote cannot publish the entry, and a device made
before signing keys is listed without one, so the device's first batch on a
remote, and its first signed one, first make sure the remote's SyncConfig
lists it with its key.
"""

from __future__ import annotations

from fog.format.syncconfig import SyncConfig
from fog.repo.identity import Identity
from fog.store import Remote, listing_signer
from fog.sync import keyring


def merged_config(ident: Identity, found: SyncConfig | None) -> SyncConfig:
    """This device's view of the SyncConfig merged with a remote's (`found`), this device included."""
    cached = ident.cached_config()
    if found is not None and (cached is None or (cached.user, cached.rotation) != (found.user, found.rotation)):
        config = found  # (a new device, or the cache of a place a key rotation left)
    else:
        config = cached or SyncConfig(ident.user_json())
        if found is not None:
            config = config.merge(found)
    if ident.device_id not in config.devices:
        config = config.with_(devices={**config.devices, ident.device_id: ident.device_entry()})
    return listing_signer(config, ident)  # (a device made before signing keys is listed without one)


def ensure_listed(ident: Identity, remote: Remote) -> bool:
    """Publish a SyncConfig listing this device (with its signing key) on `remote` unless it lists it
    already; True if published."""
    found, _ = keyring.load_config(remote, ident)
    cached = ident.cached_config()
    known = {ident.device_id, *(cached.devices if cached is not None else ())}
    if found is not None and known <= found.devices.keys() and found.devices[ident.device_id].get("sign"):
        return False  # (it must also list every device whose versions this one relays there)
    config = merged_config(ident, found)
    remote.put_config(ident, config)
    ident.cache_config(config)
    return True
