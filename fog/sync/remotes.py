"""Several remotes per share: add, list, remove.

A new remote is made a complete copy: it gets the fog-store marker and the
user's SyncConfig at once (so a device can clone from it), and every version
this device knows is queued for it; the next push publishes them in one batch,
copying their objects from the remotes that hold them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fog.backends.base import open_backend
from fog.errors import FogError, UsageError
from fog.repo.identity import Identity
from fog.repo.share import Share
from fog.store import Remote
from fog.sync.enrol import merged_config

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class RemoteInfo:
    name: str
    url: str
    pending: int  # versions waiting to be published there


def list_remotes(share: Share) -> list[RemoteInfo]:
    return [RemoteInfo(n, u, len(share.db.pending(n))) for n, u in sorted(share.config.remotes.items())]


def add_remote(share: Share, ident: Identity, name: str, url: str, options: dict[str, str] | None = None) -> RemoteInfo:
    if not _NAME.match(name):
        raise UsageError(f"remote name {name!r}: use letters, digits, '.', '_' and '-'")
    if name in share.config.remotes:
        raise FogError(f"a remote named {name!r} exists already ({share.config.remotes[name]})")
    if url in share.config.remotes.values():
        raise FogError(f"{url} is already a remote of this share")
    backend = open_backend(url, create=True, options=options)
    try:
        remote = Remote(backend)
        remote.initialize()
        found, _ = remote.load_config(ident.master_key)
        config = merged_config(ident, found)
        remote.put_config(ident.master_key, config)
        ident.cache_config(config)
    finally:
        backend.close()
    share.config.remotes[name] = url
    share.save_config()
    ids = [v.id for v in sorted(share.db.all_versions(), key=lambda v: (v.time_ns, v.id))]
    with share.db.write() as txn:
        share.db.add_pending(txn, [name], ids)
    return RemoteInfo(name, url, len(ids))


def remove_remote(share: Share, name: str) -> RemoteInfo:
    """Forget a remote (its data stays where it is)."""
    if name not in share.config.remotes:
        raise FogError(f"no remote named {name!r}")
    if len(share.config.remotes) == 1:
        raise FogError("cannot remove the only remote of a share")
    url = share.config.remotes.pop(name)
    pending = share.db.pending(name)
    with share.db.write() as txn:
        share.db.clear_pending(txn, name, pending)
    share.db.forget_present(name)
    share.save_config()
    return RemoteInfo(name, url, 0)
