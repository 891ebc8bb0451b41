"""Content-addressed, encrypted objects and signed logs on an untrusted remote.

`Remote` is one backend plus the fog-store marker and the SyncConfig versions.
`ShareStore` is one share on a remote: objects (encrypt + name on put, verify
on every get) and per-device event logs (Box-sealed, numbered, chained).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import zstandard

from fog.backends.base import Backend
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import AlreadyExists, IntegrityError, ObjectNotFound, RemoteError
from fog.format import batch as B
from fog.format import objects as O
from fog.format.manifest import MAX_ENTRIES, ManifestNode
from fog.format.syncconfig import CONFIG_VERSION, SyncConfig

MARKER_NAME = "fog-store"
MARKER = b"fog-store 1\n"


class Remote:
    """A backend holding fog data: marker, SyncConfig versions, shares."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url = backend.url

    def initialize(self) -> None:
        """Write the format marker if absent; refuse a foreign marker."""
        try:
            self.check_marker()
        except ObjectNotFound:
            self.backend.put(MARKER_NAME, MARKER)

    def check_marker(self) -> None:
        data = self.backend.get(MARKER_NAME)
        if data != MARKER:
            raise RemoteError(f"remote {self.url} holds an unknown fog-store marker (newer fog version?)")

    def require_marker(self) -> None:
        """Fail clearly when the remote is not (or no longer) a fog store."""
        try:
            self.check_marker()
        except ObjectNotFound:
            raise RemoteError(
                f"remote {self.url} is not a fog store (no {MARKER_NAME} marker); is the disk mounted?"
            ) from None

    # -- SyncConfig ---------------------------------------------------------

    def put_config(self, master_key: bytes, config: SyncConfig) -> str:
        """Publish a new SyncConfig version; never overwrites. Returns its name."""
        locator, box_key, hmac_key = K.config_keys(master_key)
        stored = bytes([CONFIG_VERSION]) + S.seal_secret(box_key, config.to_bytes())
        name = f"config/{locator}/{S.mac(hmac_key, stored).hex()}"
        try:
            self.backend.put_new(name, stored)
        except AlreadyExists:
            pass  # identical bytes are impossible (random nonce); the name is content-derived
        self.backend.sync()
        return name

    def load_config(self, master_key: bytes) -> tuple[SyncConfig | None, list[str]]:
        """Fetch, verify and merge every SyncConfig version; (merged, names)."""
        locator, box_key, hmac_key = K.config_keys(master_key)
        merged: SyncConfig | None = None
        names = sorted(self.backend.list(f"config/{locator}/"))
        for name in names:
            stored = self.backend.get(name)
            what = f"SyncConfig version {name.rsplit('/', 1)[-1][:12]} on {self.url}"
            if not S.mac_equal(S.mac(hmac_key, stored).hex().encode(), name.rsplit("/", 1)[-1].encode()):
                raise IntegrityError(f"{what}: HMAC does not match its name (altered, or wrong master key)")
            if not stored or stored[0] != CONFIG_VERSION:
                raise IntegrityError(f"{what}: unknown format version")
            plain = S.open_secret(box_key, stored[1:], what)
            try:
                config = SyncConfig.from_bytes(plain)
                merged = config if merged is None else merged.merge(config)
            except ValueError as exc:
                raise IntegrityError(f"{what}: {exc}") from exc
        return merged, names

    def share(self, keys: K.ShareKeys, presence: PresenceCache | None = None) -> ShareStore:
        return ShareStore(self.backend, keys, presence)


class PresenceCache:
    """Object ids known to be on a remote; a repo supplies a persistent one."""

    def __init__(self, known: set[bytes] | None = None) -> None:
        self._ids: set[bytes] = known if known is not None else set()
        self.new: set[bytes] = set()  # added since construction: to persist after sync

    def known(self, object_id: bytes) -> bool:
        return object_id in self._ids

    def add(self, object_id: bytes) -> None:
        self._ids.add(object_id)
        self.new.add(object_id)


@dataclass
class PutStats:
    """What a series of puts did: bytes read vs bytes sent."""

    blocks: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    plain_bytes: int = 0
    deduped_bytes: int = 0  # plaintext bytes not sent because the remote had them


class ShareStore:
    """One share's objects and logs on one remote."""

    def __init__(self, backend: Backend, keys: K.ShareKeys, presence: PresenceCache | None = None) -> None:
        self.backend = backend
        self.keys = keys
        self.prefix = f"shares/{keys.locator}/"
        self.presence = presence if presence is not None else PresenceCache()
        self.archive: ShareStore | None = None  # a local copy tried before the remote on reads
        self._archive_ids: set[bytes] | None = None

    # -- objects -------------------------------------------------------------

    def object_name(self, object_id: bytes) -> str:
        h = object_id.hex()
        return f"{self.prefix}objects/{h[:2]}/{h}"

    def object_id(self, data: bytes | memoryview) -> bytes:
        return S.mac(self.keys.mac_key, data)

    def encode(self, object_id: bytes, data: bytes | memoryview) -> bytes:
        """The stored bytes of an object: version || SecretBox(frame(data))."""
        return bytes([O.OBJECT_VERSION]) + S.seal_block(self.keys.data_key, object_id, O.frame(data))

    def put(self, data: bytes | memoryview, stats: PutStats | None = None) -> bytes:
        """Store a block or manifest node unless known present; return its id."""
        object_id = self.object_id(data)
        if stats is not None:
            stats.blocks += 1
            stats.plain_bytes += len(data)
        if not self.presence.known(object_id):
            stored = self.encode(object_id, data)
            self.backend.put(self.object_name(object_id), stored)
            self.presence.add(object_id)
            if stats is not None:
                stats.uploaded += 1
                stats.uploaded_bytes += len(stored)
        elif stats is not None:
            stats.deduped_bytes += len(data)
        return object_id

    def decode(self, object_id: bytes, stored: bytes, what: str) -> bytes:
        """Decrypt, decompress (bounded) and verify an object against its id."""
        label = f"object {object_id.hex()[:16]}" + (f" of {what}" if what else "")
        if not stored or stored[0] != O.OBJECT_VERSION:
            raise IntegrityError(f"{label}: unknown object format version")
        plain = S.open_block(self.keys.data_key, object_id, stored[1:], label)
        try:
            data = O.unframe(plain, O.MAX_BLOCK)
        except ValueError as exc:
            raise IntegrityError(f"{label}: {exc}") from exc
        if not S.mac_equal(self.object_id(data), object_id):
            raise IntegrityError(f"{label}: content does not match its name")
        return data

    def get(self, object_id: bytes, what: str = "") -> bytes:
        """Fetch and verify one object; a missing one is an integrity failure."""
        if self.archive is not None and object_id in self._archived():
            return self.archive.get(object_id, what)
        try:
            stored = self.backend.get(self.object_name(object_id))
        except ObjectNotFound:
            label = f"object {object_id.hex()[:16]}" + (f" of {what}" if what else "")
            raise IntegrityError(f"{label} is missing from remote {self.backend.url}") from None
        return self.decode(object_id, stored, what)

    def _archived(self) -> set[bytes]:
        """Ids in the local archive, listed once per process (one directory walk, not a stat per get)."""
        if self._archive_ids is None:
            self._archive_ids = set(self.archive.list_objects()) if self.archive is not None else set()
        return self._archive_ids

    def has(self, object_id: bytes) -> bool:
        return self.backend.exists(self.object_name(object_id))

    def list_objects(self) -> Iterator[bytes]:
        for name in self.backend.list(f"{self.prefix}objects/"):
            tail = name.rsplit("/", 1)[-1]
            try:
                yield bytes.fromhex(tail)
            except ValueError:
                continue

    def node(self, node_id: bytes, level: int, what: str) -> ManifestNode:
        data = self.get(node_id, what)
        try:
            node = ManifestNode.from_bytes(data)
        except ValueError as exc:
            raise IntegrityError(f"manifest {node_id.hex()[:16]} of {what}: {exc}") from exc
        if node.level != level:
            raise IntegrityError(f"manifest {node_id.hex()[:16]} of {what}: wrong tree level")
        return node

    def walk(self, root: bytes | None, depth: int, what: str, visit: Callable[[bytes, int], bool]) -> None:
        """Call visit(id, depth) for every object of a tree (nodes before leaves).

        A visit that returns False prunes that subtree (already seen).
        """
        if root is None:
            return
        if not visit(root, depth):
            return
        if depth > 0:
            for child, _ in self.node(root, depth - 1, what).entries:
                self.walk(child, depth - 1, what, visit)

    def read_blocks(self, root: bytes | None, depth: int, what: str) -> Iterator[bytes]:
        """Yield a file's verified blocks in order, streaming the tree."""
        if root is None:
            return
        if depth == 0:
            yield self.get(root, what)
            return
        for child, _ in self.node(root, depth - 1, what).entries:
            yield from self.read_blocks(child, depth - 1, what)

    # -- event logs ------------------------------------------------------------

    def log_name(self, log: str, seq: int) -> str:
        return f"{self.prefix}log/{log}/{B.seq_name(seq)}"

    def publish_batch(self, log: str, seq: int, stored: bytes) -> None:
        """Write a sealed batch create-only, after making every object durable."""
        self.backend.sync()
        name = self.log_name(log, seq)
        try:
            self.backend.put_new(name, stored)
        except AlreadyExists:
            # A retried put whose first attempt landed is fine; anything else
            # means another writer used our sequence number.
            if self.backend.get(name) != stored:
                raise IntegrityError(
                    f"batch {seq} of this device already exists on {self.backend.url} with other content; "
                    "is this identity in use on two machines?"
                ) from None
        self.backend.sync()

    def list_logs(self) -> dict[str, list[int]]:
        """Every device log on the remote with its sequence numbers, sorted."""
        logs: dict[str, list[int]] = {}
        for name in self.backend.list(f"{self.prefix}log/"):
            parts = name[len(self.prefix) :].split("/")
            if len(parts) == 3 and parts[2].isdigit():
                logs.setdefault(parts[1], []).append(int(parts[2]))
        for seqs in logs.values():
            seqs.sort()
        return logs

    def get_batch(self, log: str, seq: int) -> bytes:
        return self.backend.get(self.log_name(log, seq))


def seal_batch(device_secret: bytes, user_public: bytes, batch: B.EventBatch) -> bytes:
    return bytes([B.BATCH_VERSION]) + S.seal_box(device_secret, user_public, batch.to_bytes())


def open_batch(user_secret: bytes, device_public: bytes, stored: bytes, what: str) -> B.EventBatch:
    """Verify a stored batch came from `device_public` and decode it."""
    if not stored or stored[0] != B.BATCH_VERSION:
        raise IntegrityError(f"{what}: unknown batch format version")
    plain = S.open_box(user_secret, device_public, stored[1:], what)
    try:
        return B.EventBatch.from_bytes(plain)
    except (ValueError, zstandard.ZstdError) as exc:
        raise IntegrityError(f"{what}: undecodable after authentication: {exc}") from exc


assert MAX_ENTRIES * 40 + 8 <= O.MAX_BLOCK
