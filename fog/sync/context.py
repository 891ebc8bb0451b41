"""Opening what a sync command needs: identity, keys, remote, share store."""

from __future__ import annotations

from dataclasses import dataclass

from fog.backends.base import open_backend
from fog.crypto.keys import ShareKeys, device_log_name
from fog.crypto.seal import mac
from fog.format.version import VERSION_ID_PREFIX, Version
from fog.repo.identity import Identity
from fog.repo.share import Share
from fog.store import PresenceCache, Remote, ShareStore


@dataclass
class Context:
    """An open share bound to one of its remotes."""

    share: Share
    ident: Identity
    keys: ShareKeys
    remote_name: str
    remote: Remote
    store: ShareStore

    @property
    def log(self) -> str:
        """This device's log name in this share."""
        return device_log_name(self.keys.share_id, self.ident.device_public)

    def version_id(self, v: Version) -> bytes:
        return mac(self.keys.mac_key, VERSION_ID_PREFIX + v.canonical())

    def seal_version(self, v: Version) -> Version:
        return v.with_id(self.version_id(v))

    def commit_presence(self, txn) -> None:  # type: ignore[no-untyped-def]
        self.share.db.add_present(txn, self.remote_name, self.store.presence.new)

    def close(self) -> None:
        self.remote.backend.close()


def open_context(share: Share, ident: Identity, remote_name: str | None = None) -> Context:
    keys = ident.share_keys(share.config.share_id)
    name, url = share.remote_url(remote_name)
    remote = Remote(open_backend(url))
    try:
        remote.require_marker()
    except BaseException:
        remote.backend.close()
        raise
    presence = PresenceCache(share.db.present_ids(name))
    return Context(share, ident, keys, name, remote, remote.share(keys, presence))
