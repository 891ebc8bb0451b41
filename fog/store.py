"""Content-addressed, encrypted objects and signed logs on an untrusted remote.

`Remote` is one backend plus the fog-store marker and the SyncConfig versions.
`ShareStore` is one share on a remote: objects (encrypt + name on put, verify
on every get) and per-device event logs (signed, sealed, numbered, chained).
"""

from __future__ import annotations

import hashlib
import json
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import zstandard

from fog import cancel
from fog.backends.base import Backend
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import (
    AlreadyExists,
    IntegrityError,
    KeysRotated,
    MissingObject,
    NotReadableYet,
    ObjectNotFound,
    RemoteError,
    UnreadableObject,
)
from fog.format import batch as B
from fog.format import intent as I
from fog.format import objects as O
from fog.format import pack as P
from fog.format import syncconfig as C
from fog.format.manifest import MAX_ENTRIES, ManifestNode
from fog.format.names import shown
from fog.format.signed import HEADER_BYTES as SIGNED_HEADER
from fog.format.signed import MIN_SEALED, Envelope
from fog.format.syncconfig import CONFIG_VERSION, SyncConfig
from fog.idtable import ID_BYTES, IdTable

T = TypeVar("T")

_WALK_BATCH = 256  # manifest nodes `walk` fetches (and holds) at once
MARKER_NAME = "fog-store"
MARKER = b"fog-store 2\n"  # 2: objects are written in packs (1: one file per object, still read)
# 3: the store may be pruned (docs/FORMAT.md, section 14): writers must read prune intents and
# acknowledge them, so a fog that does not know the protocol must refuse the store
MARKER_PRUNED = b"fog-store 3\n"
# 4: batches and prune records may be signed (0x02, docs/FORMAT.md, sections 9 and 14), which a fog
# that knows only the Box-sealed ones would refuse as damaged; otherwise read as format 3
MARKER_SIGNED = b"fog-store 4\n"
_MARKERS = {b"fog-store 1\n": 1, MARKER: 2, MARKER_PRUNED: 3, MARKER_SIGNED: 4}


class Remote:
    """A backend holding fog data: marker, SyncConfig versions, shares."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url = backend.url
        self.marker_version = 0  # known after check_marker

    def initialize(self, *, foreign_ok: bool = False) -> None:
        """Write the format marker if absent (a new store is format 4 from the start); refuse a foreign marker,
        and (unless `foreign_ok`) a place that holds something else: a mistyped path (`~` for `~/fog`, the wrong
        bucket prefix) would otherwise turn someone's folder into a fog store, mixed with their files."""
        try:
            self.check_marker()
        except ObjectNotFound:
            if not foreign_ok:
                try:
                    other = next(iter(self.backend.list("")), None)
                except RemoteError:
                    other = None  # (cannot list: the put below says what is wrong)
                if other is not None:
                    raise RemoteError(
                        f"remote {self.url} is not empty and holds no fog store (no {MARKER_NAME} marker; it holds "
                        f"{shown(other)}, for one): give fog an empty or new directory or prefix of its own"
                    ) from None
            self.backend.put(MARKER_NAME, MARKER_SIGNED)
            self.marker_version = 4

    def check_marker(self) -> None:
        data = read_bounded(self.backend, MARKER_NAME, 64, "the fog-store marker")
        if data not in _MARKERS:
            raise RemoteError(f"remote {self.url} holds an unknown fog-store marker (newer fog version?)")
        self.marker_version = _MARKERS[data]

    def allow_packs(self) -> None:
        """Mark a format-1 store as holding packs before the first one is written.

        An older fog then refuses the store with a clear message instead of
        reporting the packed objects as missing.
        """
        if self.marker_version < 2:
            self.backend.put(MARKER_NAME, MARKER)
            self.marker_version = 2

    def allow_prune(self) -> None:
        """Mark the store as pruned (format 3) before the first forget or prune intent is written.

        A fog that knows only format 2 would dedupe against packs a prune is
        deleting and never acknowledge intents: it must refuse the store.
        """
        if self.marker_version < 3:
            self.backend.put(MARKER_NAME, MARKER_PRUNED)
            self.backend.sync()
            self.marker_version = 3

    def allow_signed(self) -> None:
        """Mark the store as format 4 before the first signed batch or prune record is written.

        A fog that knows only Box-sealed batches would report a signed one as
        forged: it must refuse the store instead. Nothing else changes (a
        format-1 store moved to 4 is still read as one, packs first).
        """
        if self.marker_version < 4:
            self.backend.put(MARKER_NAME, MARKER_SIGNED)
            self.backend.sync()
            self.marker_version = 4

    def require_marker(self) -> None:
        """Fail clearly when the remote is not (or no longer) a fog store."""
        try:
            self.check_marker()
        except ObjectNotFound:
            raise RemoteError(
                f"remote {self.url} is not a fog store (no {MARKER_NAME} marker); is the disk mounted?"
            ) from None

    # -- SyncConfig ---------------------------------------------------------

    def put_config(self, signer: ConfigSigner, config: SyncConfig) -> str:
        """Publish a new SyncConfig version signed by this device; never overwrites. Returns its name."""
        locator, box_key, hmac_key = K.config_keys(signer.master_key)
        config = listing_signer(config, signer)
        sealed = S.seal_secret(box_key, config.to_bytes())
        stored = _signed(C.CONFIG_SIGNED, C.SIGNATURE_CONTEXT, locator, signer, sealed)
        name = f"config/{locator}/{S.mac(hmac_key, stored).hex()}"
        try:
            self.backend.put_new(name, stored)
        except AlreadyExists:
            pass  # identical bytes are impossible (random nonce); the name is content-derived
        self.backend.sync()
        return name

    def put_rotation(self, signer: ConfigSigner, record: dict[str, Any]) -> str:
        """Leave a key rotation record at the signer's (old) SyncConfig place (docs/FORMAT.md, section 15)."""
        locator, box_key, hmac_key = K.config_keys(signer.master_key)
        plain = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        stored = _signed(C.ROTATION_VERSION, C.ROTATION_CONTEXT, locator, signer, S.seal_secret(box_key, plain))
        name = f"config/{locator}/{C.ROTATION_PREFIX}{S.mac(hmac_key, stored).hex()}"
        self.backend.put_new(name, stored)
        self.backend.sync()
        return name

    def load_config(
        self,
        master_key: bytes,
        *,
        known: set[str] | frozenset[str] = frozenset(),
        base: SyncConfig | None = None,
        news: list[SyncConfig] | None = None,
    ) -> tuple[SyncConfig | None, list[str]]:
        """Fetch, verify and merge every SyncConfig version; (merged, names).

        Versions whose names are in `known` are not fetched: `base` must hold
        them merged already (a device's cached copy), and the result is `base`
        merged with the others. Every name listed is returned either way.
        `news` (when given) receives each version fetched, as it is: what the
        remote holds is at least their merge (fog.sync.keyring.refresh_config).
        Each version must be signed by a trusted device it lists, whose
        signing key is bound to its id (unsigned versions are accepted only
        at a place no key rotation made); a device's signing key, once in
        `base`, never changes. When the place holds key rotation records,
        KeysRotated is raised with the verified records (fog.sync.keyring
        follows them).
        """
        if known and base is None:
            raise ValueError("known fog settings versions need the base they were merged into")
        locator, box_key, hmac_key = K.config_keys(master_key)
        merged: SyncConfig | None = base
        names = sorted(self.backend.list(f"config/{locator}/"))
        rotations = [n for n in names if n.rsplit("/", 1)[-1].startswith(C.ROTATION_PREFIX)]
        if rotations:
            # The place was left by a key rotation. Its versions are not read at all: a revoked device
            # still holds this place's key and may have written anything here since (section 15).
            records = [self._open_rotation(locator, box_key, hmac_key, n) for n in rotations]
            raise KeysRotated(f"the keys of this user were rotated at {self.url}", records, None)
        signers: list[tuple[str, str | None]] = []
        signs: dict[str, set[str]] = {}
        for did, entry in base.devices.items() if base is not None else ():
            if entry.get("sign"):
                signs.setdefault(did, set()).add(str(entry["sign"]))
        fetched = self._read_small([name for name in names if name not in known])
        for name in names:
            leaf = name.rsplit("/", 1)[-1]
            if name in known:
                continue
            what = f"fog settings version {leaf[:12]} on {self.url}"
            stored = fetched[name]
            if not S.mac_equal(S.mac(hmac_key, stored).hex().encode(), leaf.encode()):
                raise IntegrityError(f"{what}: HMAC does not match its name (altered, or wrong master key)")
            if not stored or stored[0] not in (CONFIG_VERSION, C.CONFIG_SIGNED):
                raise IntegrityError(f"{what}: unknown format version")
            signed = stored[0] == C.CONFIG_SIGNED
            sealed = stored[1 + 16 + S.SIGNATURE_BYTES :] if signed else stored[1:]
            plain = S.open_secret(box_key, sealed, what)
            try:
                config = SyncConfig.from_bytes(plain)
            except ValueError as exc:
                raise IntegrityError(f"{what}: {exc}") from exc
            signer = None
            if signed:
                signer = stored[1:17].hex()
                _verify_signed(stored, C.SIGNATURE_CONTEXT, locator, config.devices.get(signer), what)
            signers.append((what, signer))
            if news is not None:
                news.append(config)
            for did, entry in config.devices.items():
                if entry.get("sign"):
                    signs.setdefault(did, set()).add(str(entry["sign"]))
            try:
                merged = config if merged is None else merged.merge(config)
            except ValueError as exc:
                raise IntegrityError(f"{what}: {exc}") from exc
        for did, keys in signs.items():  # (for a device made before signing keys, nothing else pins it)
            if len(keys) > 1:
                name = (merged.devices.get(did, {}) if merged is not None else {}).get("name", did[:8])
                raise IntegrityError(
                    f"versions of your fog settings give device {name!r} {len(keys)} signing keys (forged entry)"
                )
        if merged is not None:
            _check_signers(merged, base, signers)
        return merged, names

    def _read_small(self, names: list[str]) -> dict[str, bytes]:
        """The bytes of small objects (settings versions) by name, a few read at once: each read is a
        round trip on a remote with latency (a node), and a clone reads every version three times."""
        hint = getattr(self.backend, "read_concurrency", None)
        workers = min(len(names), 8, hint if isinstance(hint, int) and not isinstance(hint, bool) and hint > 0 else 4)

        def read(name: str) -> bytes:
            return read_bounded(self.backend, name, C.MAX_STORED, name)

        if workers < 2:
            return {name: read(name) for name in names}
        with ThreadPoolExecutor(workers, thread_name_prefix="fog-settings") as pool:
            return dict(zip(names, pool.map(read, names), strict=True))

    def _open_rotation(self, locator: str, box_key: bytes, hmac_key: bytes, name: str) -> dict[str, Any]:
        """A rotation record, its HMAC checked and opened; its signature is checked by fog.sync.keyring
        against what the reading device knew before (never against this place's versions)."""
        leaf = name.rsplit("/", 1)[-1]
        what = f"key rotation record {leaf.removeprefix(C.ROTATION_PREFIX)[:12]} on {self.url}"
        stored = read_bounded(self.backend, name, C.MAX_STORED, name)
        if not S.mac_equal(S.mac(hmac_key, stored).hex().encode(), leaf.removeprefix(C.ROTATION_PREFIX).encode()):
            raise IntegrityError(f"{what}: HMAC does not match its name (altered, or wrong master key)")
        if stored[:1] != bytes([C.ROTATION_VERSION]) or len(stored) < 1 + 16 + S.SIGNATURE_BYTES:
            raise IntegrityError(f"{what}: unknown format version")
        signer = stored[1:17].hex()
        try:
            record = json.loads(S.open_secret(box_key, stored[1 + 16 + S.SIGNATURE_BYTES :], what))
            if (
                not isinstance(record, dict)
                or record.get("by") != signer
                or not isinstance(record.get("stanzas"), dict)
            ):
                raise ValueError("not a rotation record of its signer")
            revoked, stanzas = record.get("revoked"), record["stanzas"]
            if not isinstance(revoked, list) or not all(isinstance(d, str) and len(d) == 32 for d in revoked):
                raise ValueError("malformed rotation record")
            if type(record.get("time_ns")) is not int or not 0 <= record["time_ns"] < 1 << 63:
                raise ValueError("malformed rotation record")
            if type(record.get("epoch")) is not int or not all(isinstance(v, str) for v in stanzas.values()):
                raise ValueError("malformed rotation record")
        except ValueError as exc:
            raise IntegrityError(f"{what}: {exc}") from exc
        return {**record, "name": name, "what": what, "stored": stored, "locator": locator}

    def rotation_records(self, master_key: bytes) -> list[str]:
        """Names of the key rotation records at this master key's SyncConfig place (one LIST)."""
        return self.rotation_records_at(K.config_keys(master_key)[0])

    def rotation_records_at(self, locator: str) -> list[str]:
        """Names of the key rotation records at a SyncConfig place given by its locator (one LIST)."""
        return sorted(
            n for n in self.backend.list(f"config/{locator}/") if n.rsplit("/", 1)[-1].startswith(C.ROTATION_PREFIX)
        )

    def open_rotations(self, master_key: bytes, names: list[str]) -> list[dict[str, Any]]:
        """The rotation records of those names at `master_key`'s place, HMAC-checked and opened; one that
        does not open (junk a store or a revoked device left) is left out. Signatures: verify_rotation."""
        locator, box_key, hmac_key = K.config_keys(master_key)
        out = []
        for name in names:
            try:
                out.append(self._open_rotation(locator, box_key, hmac_key, name))
            except (IntegrityError, ObjectNotFound, UnreadableObject):
                continue
        return out

    def verify_rotation(self, record: dict[str, Any], entry: dict[str, Any] | None) -> None:
        """Check a rotation record's signature against its author's entry (IntegrityError otherwise)."""
        _verify_signed(record["stored"], C.ROTATION_CONTEXT, record["locator"], entry, record["what"])

    def share(
        self, keys: K.ShareKeys, presence: PresenceCache | None = None, catalog: PackCatalog | None = None
    ) -> ShareStore:
        return ShareStore(self.backend, keys, presence, catalog)


class PresenceCache:
    """Object ids known to be on a remote; a repo supplies a persistent one.

    `load` (the ids the share database remembers: byte strings of ids end to
    end, one run each, or single ids) runs on first use only: a push that
    finds nothing to upload never reads them.

    Ids are not held one Python object each (~140 B an id in a set, twice
    with `new`: a clone of 200,000 files held 56 MB that way) but in an
    `IdTable` referring to where they already are: a pack's index entries
    (`add_index`), the runs the database stored, or a bytearray of the ids
    added one at a time (fog.idtable).
    """

    def __init__(self, known: Iterable[bytes] | None = None, load: Callable[[], Iterable[bytes]] | None = None) -> None:
        self._table: IdTable | None = None
        self._load = load if known is None and load is not None else None
        self._known = known
        self._lock = threading.Lock()
        self._own = bytearray()  # the ids added one at a time (`add`, `claim`), end to end
        self._own_number = -1
        self._new = array("Q")  # references to the ids added since the last `take_new`: to persist after sync
        self._gone: set[int] = set()  # references dropped by `discard` (a prune intent: rare)

    def _all(self) -> IdTable:
        table = self._table
        if table is None:
            with self._lock:
                if self._table is None:
                    table = IdTable()
                    self._own_number = table.add_buffer(self._own)
                    single = bytearray()  # ids given one by one: one run
                    for run in self._load() if self._load is not None else (self._known or ()):
                        if len(run) == ID_BYTES:
                            single += run
                        else:
                            table.insert_run(table.add_buffer(run), ID_BYTES)
                    if single:
                        table.insert_run(table.add_buffer(bytes(single)), ID_BYTES)
                    self._known = self._load = None
                    self._table = table
                table = self._table
        return table

    def known(self, object_id: bytes) -> bool:
        return self._all().first(object_id) >= 0

    def add(self, object_id: bytes) -> None:
        self.claim(object_id)

    def claim(self, object_id: bytes) -> bool:
        """Add an object unless known; whether it was new (the caller then stores it)."""
        table = self._all()
        with self._lock:
            if table.first(object_id) >= 0:
                return False
            ref = self._own_number << 32 | len(self._own)
            self._own += object_id
            table.insert(ref)
            self._new.append(ref)
            return True

    def missing(self, index: P.PackIndex) -> bool:
        """Whether some object of a pack is not known present."""
        table = self._all()
        return any(table.first(object_id) < 0 for object_id in index.ids())

    def add_index(self, index: P.PackIndex) -> None:
        """Count a pack's objects present (referred to in its index's entries, not copied)."""
        table = self._all()
        entries, step = index.entries, P.ENTRY_BYTES
        with self._lock:
            number = -1
            for off in range(0, len(entries), step):
                if table.first(entries[off : off + ID_BYTES]) < 0:
                    if number < 0:
                        number = table.add_buffer(entries)
                    ref = number << 32 | off
                    table.insert(ref)
                    self._new.append(ref)

    def discard(self, object_ids: Iterable[bytes]) -> None:
        """No longer count these as present (their packs are condemned by a prune intent)."""
        table = self._all()
        with self._lock:
            for object_id in object_ids:
                self._gone.update(table.remove(object_id))

    @property
    def new(self) -> set[bytes]:
        """The ids added since construction (or the last `take_new`)."""
        return {self._all().id_at(ref) for ref in self._new if ref not in self._gone}

    def take_new(self) -> bytes:
        """The ids added since construction (or the last call), end to end; from then on they are not new."""
        table = self._all()
        with self._lock:
            new, self._new = self._new, array("Q")
            gone = self._gone
            return b"".join(table.id_at(ref) for ref in new if ref not in gone)


class PackDB(Protocol):
    """The part of the share database that remembers packs (fog.repo.db.RepoDB)."""

    def add_pack(self, txn, index: P.PackIndex, *, locs: bool = True) -> bool: ...  # type: ignore[no-untyped-def]
    def replace_pack(self, txn, index: P.PackIndex) -> None: ...  # type: ignore[no-untyped-def]
    def unindexed_packs(self) -> list[P.PackIndex]: ...
    def pack_index(self, pack_id: bytes) -> P.PackIndex | None: ...
    def locations(self, object_id: bytes) -> list[tuple[bytes, int, int]]: ...
    def pack_epoch(self, pack_id: bytes) -> int | None: ...
    def set_pack_epoch(self, txn, pack_id: bytes, epoch: int) -> None: ...  # type: ignore[no-untyped-def]


class _Places:
    """Object id -> places in the pack indexes held in memory, compactly.

    A dict of lists of tuples cost ~320 B an object (a clone of 100,000 small
    files: ~30 MB), a dict of ints ~110 B; here an object costs a reference
    to its entry in its pack's index (fog.idtable: 12-24 B), where the full id
    is compared.
    """

    def __init__(self) -> None:
        self._indexes: list[P.PackIndex] = []
        self._table = IdTable()
        self._dropped: set[int] = set()  # positions in _indexes replaced by a pack's true index (`drop`)

    def add(self, index: P.PackIndex) -> None:
        self._indexes.append(index)
        self._table.insert_run(self._table.add_buffer(index.entries), P.ENTRY_BYTES)

    def drop(self, pack_id: bytes) -> None:
        """Forget the places the indexes held for a pack (PackCatalog.replace)."""
        self._dropped.update(i for i, index in enumerate(self._indexes) if index.pack == pack_id)

    def get(self, object_id: bytes) -> list[tuple[bytes, int, int]]:
        out: list[tuple[bytes, int, int]] = []
        for ref in self._table.refs(object_id):
            if self._dropped and ref >> 32 in self._dropped:
                continue
            index = self._indexes[ref >> 32]
            _, offset, length = index.entry((ref & 0xFFFFFFFF) // P.ENTRY_BYTES)
            out.append((index.pack, offset, length))
        return out


class PackCatalog:
    """Where objects sit inside packs, optionally backed by the share database.

    What is learned (own uploads, headers read) is kept in memory and written
    to the database by `commit`, inside the caller's transaction: one LMDB
    commit (and its fsync) per command, not one per pack. The indexes are
    facts about remote content and only hints (every object read is
    verified), so losing uncommitted ones costs a header scan, nothing more.
    """

    def __init__(self, db: PackDB | None = None) -> None:
        self._db = db
        self._packs: dict[bytes, P.PackIndex] = {}
        # object id -> places, built from _packs only when something is read: a push
        # that learns 100,000 places and reads none keeps just the compact indexes.
        self._locs = _Places()
        self._unindexed: list[P.PackIndex] = []
        self._leftovers = False  # the database's unindexed packs were read (see locations)
        self._new: list[P.PackIndex] = []
        self._replaced: list[P.PackIndex] = []  # true indexes of packs known under another header (`replace`)
        self._epochs: dict[bytes, int] = {}  # pack id -> the key epoch of its header, where learnt
        self._new_epochs: dict[bytes, int] = {}  # (the stale ones, to be written by `commit`)
        self._lock = threading.Lock()

    def add(self, index: P.PackIndex) -> None:
        with self._lock:
            if index.pack in self._packs:
                return
            self._packs[index.pack] = index
            self._new.append(index)
            self._unindexed.append(index)

    def replace(self, index: P.PackIndex) -> None:
        """Take `index`, read from a copy of its pack whose bytes match its name, in place of the one known.

        A header alone cannot be checked against its pack's name (the id hashes the whole pack): a remote
        that serves another pack's bytes under a name teaches the other pack's index under it, and the
        objects the true pack holds are then in no known place (docs/FORMAT.md section 5)."""
        with self._lock:
            if self._packs.get(index.pack) == index:
                return
            self._packs[index.pack] = index
            self._new = [i for i in self._new if i.pack != index.pack]
            self._replaced = [*(i for i in self._replaced if i.pack != index.pack), index]
            self._unindexed = [i for i in self._unindexed if i.pack != index.pack]
            self._locs.drop(index.pack)
            self._unindexed.append(index)

    def commit(self, txn: object, *, locs: bool = True) -> None:
        """Write what was learned since the last commit (call inside a write transaction).

        `locs=False` leaves the objects' places for RepoDB.index_packs (a push)."""
        if self._db is None:
            return
        with self._lock:
            new, self._new = self._new, []
        for index in new:
            self._db.add_pack(txn, index, locs=locs)
        with self._lock:
            replaced, self._replaced = self._replaced, []
        for index in replaced:
            self._db.replace_pack(txn, index)
        with self._lock:
            epochs, self._new_epochs = self._new_epochs, {}
        for pack_id, epoch in epochs.items():
            self._db.set_pack_epoch(txn, pack_id, epoch)

    def epoch(self, pack_id: bytes) -> int | None:
        """The key epoch a pack's header is sealed with, if learnt (here, or remembered by the database)."""
        found = self._epochs.get(pack_id)
        if found is None and self._db is not None:
            found = self._db.pack_epoch(pack_id)
            if found is not None:
                self._epochs[pack_id] = found
        return found

    def set_epoch(self, pack_id: bytes, epoch: int, *, current: int) -> None:
        """Learn a pack's key epoch; the database remembers it once it is older than `current` (the share's
        epoch): it never changes, and `ShareStore.stale_epoch` then need not read the header again."""
        with self._lock:
            if self._epochs.get(pack_id) == epoch:
                return
            self._epochs[pack_id] = epoch
            if epoch < current:
                self._new_epochs[pack_id] = epoch

    def index(self, pack_id: bytes) -> P.PackIndex | None:
        found = self._packs.get(pack_id)
        if found is None and self._db is not None:
            found = self._db.pack_index(pack_id)
        return found

    def locations(self, object_id: bytes, *, every: bool = True) -> list[tuple[bytes, int, int]]:
        """Known places of an object; with `every=False`, the ones in memory when there are any
        (what a read tries first: the database lookup is a transaction per object)."""
        if self._unindexed:
            with self._lock:
                for index in self._unindexed:
                    self._locs.add(index)
                self._unindexed = []
        mine = self._locs.get(object_id)
        if self._db is None or (mine and not every):
            return list(mine or ())
        stored = self._db.locations(object_id)
        if not stored and not mine and not self._leftovers:
            # a push stopped before it indexed its packs (RepoDB.index_packs): read their indexes here
            self._leftovers = True
            with self._lock:
                for index in self._db.unindexed_packs():
                    if index.pack not in self._packs:
                        self._packs[index.pack] = index
                        self._unindexed.append(index)
            if self._unindexed:
                return self.locations(object_id, every=every)
        if not mine:
            return stored
        return [*mine, *(loc for loc in stored if loc not in mine)]


class Packer:
    """Gathers stored objects into packs and uploads each one with `ship`. Thread-safe.

    The thread whose object fills a pack builds it (join, seal the index,
    hash); `in_flight` upload threads ship packs while the producers go on
    computing. A producer that fills a pack while `in_flight` packs are still
    uploading waits, holding only its own object: memory stays near
    (in_flight + 1) packs, and a slow remote slows the producers instead of
    piling up packs. An upload failure is raised by the next `add` or `flush`.
    Once cancellation is requested (fog.cancel) no new pack is built or
    shipped: `add`, `flush` and the producers waiting for a slot raise Cancelled.
    With `limit` (the largest object a remote takes) no pack is larger: one is
    shipped before an object would take it past the limit (an object larger
    than the limit alone still makes a pack, which that remote refuses).
    """

    def __init__(
        self,
        pack_key: bytes,
        ship: Callable[[bytes, P.PackIndex], None],
        target: int = P.TARGET_BYTES,
        in_flight: int | None = 2,
        limit: int | None = None,
    ) -> None:
        in_flight = in_flight or 2
        self.pack_key, self.ship, self.limit = pack_key, ship, limit
        self.target = target if limit is None else min(target, limit)
        self._objects: list[tuple[bytes, bytes]] = []
        self._size = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(in_flight)
        self._in_flight = in_flight
        self._uploads: ThreadPoolExecutor | None = None
        self._futures: list[Future[None]] = []
        self._error: BaseException | None = None

    def add(self, object_id: bytes, stored: bytes) -> None:
        self._raise_error()
        while True:
            with self._lock:
                if not self._past_limit(len(stored)):
                    self._objects.append((object_id, stored))
                    self._size += len(stored)
                    if self._size < self.target:
                        return
                    break
            self._send(lambda: self._past_limit(len(stored)))  # ship what is gathered first
        self._send(lambda: self._size >= self.target)

    def _past_limit(self, more: int) -> bool:
        """Whether one more object of `more` bytes would take the gathered pack past the limit."""
        if self.limit is None or not self._objects:
            return False
        return P.header_size(len(self._objects) + 1) + self._size + more > self.limit

    def flush(self) -> None:
        """Ship what is gathered (the last, partial pack) and wait for every upload."""
        self._send(lambda: bool(self._objects))
        for fut in self._futures:
            fut.result()
        self._futures.clear()
        if self._uploads is not None:
            self._uploads.shutdown()
            self._uploads = None
        self._raise_error()

    def _send(self, still: Callable[[], bool]) -> None:
        while not self._slots.acquire(timeout=0.05):  # wait for an upload slot before taking the pack
            cancel.check()
        try:
            cancel.check()
            with self._lock:
                if not still():  # another thread took it meanwhile
                    self._slots.release()
                    return
                objects, self._objects, self._size = self._objects, [], 0
            data, index = P.build(self.pack_key, objects)
            del objects[:]  # the pack holds its own copy
            if self._uploads is None:
                with self._lock:
                    if self._uploads is None:
                        self._uploads = ThreadPoolExecutor(self._in_flight, thread_name_prefix="fog-pack")
            self._futures.append(self._uploads.submit(self._upload, data, index))
        except BaseException:
            self._slots.release()
            raise

    def _upload(self, data: bytes, index: P.PackIndex) -> None:
        try:
            cancel.check()
            self.ship(data, index)
        except BaseException as exc:
            self._error = self._error or exc
        finally:
            self._slots.release()

    def _raise_error(self) -> None:
        cancel.check()
        if self._error is not None:
            raise self._error


@dataclass
class PutStats:
    """What a series of puts did: bytes read vs bytes sent."""

    blocks: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    plain_bytes: int = 0
    deduped_bytes: int = 0  # plaintext bytes not sent because the remote had them


def encode_object(data_key: bytes, object_id: bytes, data: bytes | memoryview) -> bytes:
    """The stored bytes of an object named `object_id`: version || SecretBox(frame(data)) (ShareStore.encode)."""
    return bytes([O.OBJECT_VERSION]) + S.seal_block(data_key, object_id, O.frame(data))


class ShareStore:
    """One share's objects and logs on one remote."""

    def __init__(
        self,
        backend: Backend,
        keys: K.ShareKeys,
        presence: PresenceCache | None = None,
        catalog: PackCatalog | None = None,
    ) -> None:
        self.backend = backend
        self.keys = keys
        self.prefix = f"shares/{keys.locator}/"
        self.presence = presence if presence is not None else PresenceCache()
        self.catalog = catalog if catalog is not None else PackCatalog()
        self.archive: ShareStore | None = None  # a local copy tried before the remote on reads
        self._archive_ids: set[bytes] | None = None
        self._scan_lock = threading.Lock()
        self._scanned = False
        self._scan_confirmed = False
        self._recheck_lock = threading.Lock()
        self._rechecked: bool | None = None  # None: not yet; else whether `recheck_packs` learnt anything
        self._hot = threading.local()  # objects a `preload` fetched for this thread
        self._packs_here: dict[bytes, bool] = {}  # pack id -> on this remote (see `has`)
        # packs a prune intent condemns (fog.sync.prune.observe): read from, never counted present
        self.condemned: set[bytes] = set()
        # objects counted present from packs another process put (scan_packs): the
        # next batch must make them durable too (sync(every=True)) before naming them
        self.adopted = False

    # -- objects -------------------------------------------------------------

    def object_name(self, object_id: bytes) -> str:
        h = object_id.hex()
        return f"{self.prefix}objects/{h[:2]}/{h}"

    def object_id(self, data: bytes | memoryview) -> bytes:
        return self.keys.mac(data)

    @property
    def read_concurrency(self) -> int | None:
        """The backend's hint of how many reads at once pay off (None: no hint)."""
        hint = getattr(self.backend, "read_concurrency", None)
        return max(1, hint) if isinstance(hint, int) else None  # (a wrapper may answer any attribute)

    @property
    def write_concurrency(self) -> int | None:
        """The backend's hint of how many pack uploads at once pay off (None: no hint)."""
        hint = getattr(self.backend, "write_concurrency", None)
        return max(1, hint) if isinstance(hint, int) and not isinstance(hint, bool) else None

    @property
    def max_object(self) -> int | None:
        """The largest object the backend takes, when it says (packs are made no larger; None: no limit)."""
        limit = getattr(self.backend, "max_object", None)
        return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None

    def encode(self, object_id: bytes, data: bytes | memoryview) -> bytes:
        """The stored bytes of an object: version || SecretBox(frame(data))."""
        return encode_object(self.keys.data_key, object_id, data)

    def put(self, data: bytes | memoryview, stats: PutStats | None = None) -> bytes:
        """Store a block or manifest node as one loose object unless known present; return its id.

        Pushes write packs (`put_pack`); loose objects are what the local
        archive holds and what format-1 remotes hold.
        """
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
        plain = _open_any(self.keys.data_keys, lambda key: S.open_block(key, object_id, stored[1:], label))
        try:
            data = O.unframe(plain, O.MAX_BLOCK)
        except ValueError as exc:
            raise IntegrityError(f"{label}: {exc}") from exc
        if not S.mac_equal(self.object_id(data), object_id):
            raise IntegrityError(f"{label}: content does not match its name")
        return data

    def get(self, object_id: bytes, what: str = "") -> bytes:
        """Fetch and verify one object; a missing one is an integrity failure.

        Tried in order: the local archive, each known place in a pack, a loose
        object; when none is known, the remote's unknown pack headers are read
        once (packs written by other devices) and the places tried again; when
        still none serves it, every header on the remote is read again, known
        ones too (`recheck_packs`), and the places tried once more.
        """
        if self.archive is not None and object_id in self._archived():
            return self.archive.get(object_id, what)
        hot = getattr(self._hot, "objects", None)
        if hot and (stored := hot.pop(object_id, None)) is not None:
            try:
                return self.decode(object_id, stored, what)
            except IntegrityError:
                pass  # that copy is damaged: another may not be
        failure: list[IntegrityError] = []  # the first failure (cleared on the way out: see _places)
        try:
            return self._places(object_id, what, failure)
        finally:
            failure.clear()

    def _places(self, object_id: bytes, what: str, failure: list[IntegrityError]) -> bytes:
        """`get` from the places known (and learnt). The first failure is kept in `failure`, which the
        caller empties on the way out: a local holding it would make this frame and the exception's traceback
        hold each other (with the bytes read) until a full collection (review 7, F3)."""
        tried: set[tuple[bytes, int, int]] = set()
        rechecked = False
        for attempt in range(3):
            # the places held in memory first, then every place the database knows too
            for every in (False, True):
                for place in self.catalog.locations(object_id, every=every):
                    if place in tried:
                        continue
                    tried.add(place)
                    try:
                        stored = self.backend.get_range(self.pack_name(place[0]), place[1], place[2])
                        if len(stored) != place[2]:
                            label = f"object {object_id.hex()[:16]}" + (f" of {what}" if what else "")
                            raise IntegrityError(
                                f"{label}: pack {place[0].hex()[:16]} is truncated "
                                f"({len(stored)} of its {place[2]} bytes at offset {place[1]})"
                            )
                        return self.decode(object_id, stored, what)
                    except ObjectNotFound:
                        continue  # a pack this remote does not have (written to another remote)
                    except IntegrityError as exc:
                        failure[:] = failure or [exc]  # another copy may be intact
            try:
                return self.decode(object_id, self.get_loose(object_id), what)
            except ObjectNotFound:
                pass
            if attempt == 0 and not failure:
                self.scan_packs()  # (or wait for another thread's scan) then look again
                continue
            if rechecked or not self.recheck_packs():
                break
            rechecked = True
        if failure:
            raise failure[0]
        label = f"object {object_id.hex()[:16]}" + (f" of {what}" if what else "")
        raise MissingObject(f"{label} is missing from remote {self.backend.url}", object_id)

    def _archived(self) -> set[bytes]:
        """Ids in the local archive, listed once per process (one directory walk, not a stat per get)."""
        if self._archive_ids is None:
            self._archive_ids = set(self.archive.list_objects()) if self.archive is not None else set()
        return self._archive_ids

    def has(self, object_id: bytes) -> bool:
        """Whether the remote holds the object (in a known pack, or loose).

        Pack existence is remembered per store: seeding a remote asks about
        every object of the history, and most share a few packs.
        """
        for pack_id, _, _ in self.catalog.locations(object_id):
            known = self._packs_here.get(pack_id)
            if known is None:
                known = self._packs_here[pack_id] = self.backend.exists(self.pack_name(pack_id))
            if known:
                return True
        return self.backend.exists(self.object_name(object_id))

    # -- packs ---------------------------------------------------------------------

    def pack_name(self, pack_id: bytes) -> str:
        h = pack_id.hex()
        return f"{self.prefix}packs/{h[:2]}/{h}"

    def put_pack(self, data: bytes, index: P.PackIndex) -> None:
        """Store a built pack; its objects then count as present on this remote."""
        self.backend.put(self.pack_name(index.pack), data)
        self._packs_here[index.pack] = True
        self.catalog.add(index)
        self.catalog.set_epoch(index.pack, self.keys.epoch, current=self.keys.epoch)
        self.presence.add_index(index)

    def list_packs(self) -> Iterator[bytes]:
        for pack_id, _ in self.list_pack_names():
            yield pack_id

    def list_pack_names(self) -> Iterator[tuple[bytes, str]]:
        """(id, name) of every pack listed, also one stored where `pack_name` does not put it."""
        for name in self.backend.list(f"{self.prefix}packs/"):
            tail = name.rsplit("/", 1)[-1]
            if len(tail) == 64:
                try:
                    yield bytes.fromhex(tail), name
                except ValueError:
                    continue

    def read_index(self, pack_id: bytes) -> P.PackIndex:
        """Fetch and open a pack's header (one ranged read, two for a very full pack)."""
        return self.read_index_epoch(pack_id)[0]

    def read_index_epoch(self, pack_id: bytes) -> tuple[P.PackIndex, int]:
        """`read_index`, and the key epoch the header is sealed with (the pack's epoch)."""
        name, what = self.pack_name(pack_id), f"pack {pack_id.hex()[:16]}"
        head = self.backend.get_range(name, 0, 1 << 16)
        try:
            n = P.sealed_length(head)
        except ValueError as exc:
            raise IntegrityError(f"{what}: {exc}") from exc
        # the sealed index as one range of its own: no slice of it copied (a header is up to 8 MiB)
        sealed = head[P.HEAD_BYTES : P.HEAD_BYTES + n] if len(head) >= P.HEAD_BYTES + n else b""
        del head
        if not sealed:
            sealed = self.backend.get_range(name, P.HEAD_BYTES, n)
            if len(sealed) < n:
                raise IntegrityError(f"{what}: pack ends inside its header")
        first = ""  # the first key's failure, as text: an exception kept here would hold this frame (and
        # `sealed`) in a reference cycle through its traceback until a full collection (review 7, F3)
        # newest first: the current epoch's, then older ones (an epoch's other keys right after its own)
        for (epoch, _), key in zip(self.keys.epoch_keys, self.keys.pack_keys, strict=True):
            try:
                return P.open_sealed_index(key, pack_id, sealed, what), epoch
            except IntegrityError as exc:
                first = first or str(exc)
        raise IntegrityError(first)

    @contextmanager
    def preload(self, object_ids: list[bytes]) -> Iterator[None]:
        """Fetch objects that sit close together in one pack with one ranged read.

        For this thread, until the block ends, `get` of one of them uses the
        fetched bytes (still verified). Callers group ids by `nearby`; anything
        that fails here is simply fetched again, one by one, by `get`.
        """
        places = [(loc, object_id) for object_id in object_ids if (loc := self._first_place(object_id))]
        hot: dict[bytes, bytes] = {}
        if len(places) > 1 and len({p[0][0] for p in places}) == 1:
            pack_id = places[0][0][0]
            lo = min(p[0][1] for p in places)
            hi = max(p[0][1] + p[0][2] for p in places)
            try:
                data = self.backend.get_range(self.pack_name(pack_id), lo, hi - lo)
            except (ObjectNotFound, RemoteError):
                data = b""  # only a shortcut: `get` finds (or fails to find) each object on its own
            for (_, offset, length), object_id in places:
                if offset + length - lo <= len(data):
                    hot[object_id] = data[offset - lo : offset - lo + length]
        outer = getattr(self._hot, "objects", None)  # a preload around this one (a walk inside a group's)
        self._hot.objects = hot
        try:
            yield
        finally:
            self._hot.objects = outer

    def _first_place(self, object_id: bytes) -> tuple[bytes, int, int] | None:
        locs = self.catalog.locations(object_id, every=False) if object_id else None
        return locs[0] if locs else None

    def runs(self, object_ids: list[bytes], *, span: int = 1 << 20, gap: int = 256 << 10) -> list[list[bytes]]:
        """Split ids, in their order, into runs that each sit close together in one pack.

        A file's blocks were packed nearly one after another (a push computes a
        few blocks at once, so neighbours may swap places), so a run is one
        ranged read (`get_run`) instead of a read per block. A run's objects lie
        within `span` bytes of one pack, with at most `gap` bytes of others
        between them (one largest block: room for a neighbour that is still to
        come); ids without a known place (or in the local archive) stand alone.
        """
        out: list[list[bytes]] = []
        run: list[bytes] = []
        pack = b""
        lo = hi = held = 0
        archived = self._archived() if self.archive is not None else set()
        for object_id in object_ids:
            loc = None if object_id in archived else self._first_place(object_id)
            if loc is None:
                if run:
                    out.append(run)
                out.append([object_id])
                run = []
                continue
            pack_id, offset, length = loc
            if run:
                new_lo, new_hi = min(lo, offset), max(hi, offset + length)
                if pack_id != pack or new_hi - new_lo > span or (new_hi - new_lo) - (held + length) > gap:
                    out.append(run)
                    run = []
            if not run:
                pack, lo, hi, held = pack_id, offset, offset + length, 0
            else:
                lo, hi = min(lo, offset), max(hi, offset + length)
            run.append(object_id)
            held += length
        if run:
            out.append(run)
        return out

    def get_run(self, object_ids: list[bytes], what: str = "") -> list[bytes]:
        """`get` of every id of one run (see `runs`), with one ranged read when they share a pack."""
        if len(object_ids) == 1:
            return [self.get(object_ids[0], what)]
        with self.preload(object_ids):
            return [self.get(object_id, what) for object_id in object_ids]

    def nearby(self, object_ids: list[bytes], *, span: int = 1 << 20, gap: int = 256 << 10) -> list[list[int]]:
        """Group positions of `object_ids` so each group is one dense run of one pack.

        Ids without a known place come back alone. Groups keep no more than
        `span` bytes from their first object's start (bounded memory per reader).
        """
        located: list[tuple[bytes, int, int, int]] = []
        groups: list[list[int]] = []
        for i, object_id in enumerate(object_ids):
            loc = self._first_place(object_id)
            if loc is None:
                groups.append([i])
            else:
                located.append((*loc, i))
        located.sort()
        run: list[int] = []
        start = end = 0
        pack = b""
        for pack_id, offset, length, i in located:
            if run and (pack_id != pack or offset - end > gap or offset + length - start > span):
                groups.append(run)
                run = []
            if not run:
                pack, start = pack_id, offset
            run.append(i)
            end = offset + length
        if run:
            groups.append(run)
        return groups

    def get_loose(self, object_id: bytes) -> bytes:
        """A loose object's stored bytes (format 1), unverified; refused past any object's size."""
        name = self.object_name(object_id)
        return read_bounded(self.backend, name, O.MAX_STORED, name)

    def fetch_pack(self, pack_id: bytes) -> bytes:
        """A whole pack's bytes, unverified; refused past the largest pack a writer makes."""
        name = self.pack_name(pack_id)
        return read_bounded(self.backend, name, P.MAX_PACK_BYTES, name)

    def get_pack(self, pack_id: bytes) -> bytes:
        """A whole pack, checked against its name (SHA256 of its bytes)."""
        data = self.fetch_pack(pack_id)
        if hashlib.sha256(data).digest() != pack_id:
            raise IntegrityError(f"pack {pack_id.hex()[:16]} on {self.backend.url}: bytes do not match its name")
        return data

    def scan_packs(self, *, confirm: bool = False) -> int:
        """Learn the headers of this remote's packs not in the catalog yet; once per store.

        Every object they hold counts as present on this remote from then on.
        A pack whose header cannot be read is skipped here (check reports it).
        With `confirm` (a push about to rely on them: resuming, catch-up), a
        pack that would add presence must also reach the end its index gives
        (one ranged read of its last byte): a name alone, or a truncated copy,
        does not count. Returns how many packs were learned.
        """
        with self._scan_lock:
            if self._scanned and (self._scan_confirmed or not confirm):
                return 0
            learned = 0
            for pack_id in self.list_packs():
                index = self.catalog.index(pack_id)
                if index is None:
                    try:
                        index, epoch = self.read_index_epoch(pack_id)
                    except (IntegrityError, ObjectNotFound):
                        continue
                    self.catalog.set_epoch(pack_id, epoch, current=self.keys.epoch)
                    self.catalog.add(index)
                    learned += 1
                if pack_id in self.condemned:
                    continue  # about to be deleted: what it holds must be stored again to be relied on
                if not self.presence.missing(index) or self.stale_epoch(pack_id):
                    continue
                if confirm and not self._whole(index):
                    continue
                self.presence.add_index(index)
                self.adopted = True
            # (not when stopped part-way: the next call scans again)
            self._scanned = True
            self._scan_confirmed = self._scan_confirmed or confirm
            return learned

    def recheck_packs(self) -> bool:
        """Read every pack header on this remote again, known ones too; once per store. Whether the catalog
        learnt anything (from this call or an earlier one): the caller then looks again.

        The error path of `get` (an object in no known place here, or whose known places fail here): the
        catalog is not per remote, and a header cannot be checked against its pack's name (the id hashes
        the whole pack), so another remote that served pack B's bytes under pack A's name taught B's index
        as A's, and A's objects are in no known place. A header read here that differs from the known
        one replaces it only when this copy's bytes match its name (one whole read of that pack): a
        header read under the wrong name never replaces what an intact copy says. One not known yet is
        learnt as `scan_packs` learns it.
        """
        with self._recheck_lock:
            if self._rechecked is not None:
                return self._rechecked
            learned = False
            for pack_id in self.list_packs():
                try:
                    index, epoch = self.read_index_epoch(pack_id)
                except (IntegrityError, ObjectNotFound):
                    continue
                known = self.catalog.index(pack_id)
                if known == index:
                    continue
                if known is not None:
                    try:
                        self.get_pack(pack_id)
                    except (IntegrityError, ObjectNotFound):  # (UnreadableObject is both)
                        continue
                    self.catalog.replace(index)
                else:
                    self.catalog.add(index)
                self.catalog.set_epoch(pack_id, epoch, current=self.keys.epoch)
                learned = True
                if pack_id not in self.condemned and self.presence.missing(index) and not self.stale_epoch(pack_id):
                    self.presence.add_index(index)
                    self.adopted = True
            self._rechecked = learned
            return learned

    def stale_epoch(self, pack_id: bytes) -> bool:
        """Whether a pack is sealed with a key epoch older than the share's current one (or its header no
        longer opens): then its objects do not count present from it (docs/FORMAT.md, sections 5 and 15).

        A pack uploaded before a key rotation by a push that never published it holds objects no version
        names: counting them present would let a later version name ciphertext the revoked device can
        read. Objects a version named before the rotation stay present where this device learnt them
        then (the share database); learnt from an old pack now, they are sealed again (once).
        """
        if self.keys.epoch == 0:
            return False
        epoch = self.catalog.epoch(pack_id)
        if epoch is None:
            try:
                epoch = self.read_index_epoch(pack_id)[1]
            except (IntegrityError, ObjectNotFound):
                return True
            self.catalog.set_epoch(pack_id, epoch, current=self.keys.epoch)
        return epoch < self.keys.epoch

    def mark_scanned(self) -> None:
        """Every pack header was just read by the caller (check): `get` need not scan again."""
        with self._scan_lock:
            self._scanned = True

    def held_elsewhere(self, object_ids: set[bytes], gone: set[bytes]) -> set[bytes]:
        """Those of `object_ids` that a known pack not in `gone` holds whole on this remote.

        A prune intent condemns packs: their objects stop counting present (fog.sync.prune.observe), but
        not those a pack that stays holds too (a repack's output, written before the intent): dropped,
        the next push would upload them again. A pack counts when its header is known here, it is not
        sealed with a stale key epoch, and this remote's copy reaches its end (as `scan_packs` confirms)."""
        out: set[bytes] = set()
        fit: dict[bytes, bool] = {}
        for oid in object_ids:
            for pack_id, _, _ in self.catalog.locations(oid):
                if pack_id in gone:
                    continue
                ok = fit.get(pack_id)
                if ok is None:
                    index = self.catalog.index(pack_id)
                    ok = fit[pack_id] = index is not None and not self.stale_epoch(pack_id) and self._whole(index)
                if ok:
                    out.add(oid)
                    break
        return out

    def _whole(self, index: P.PackIndex) -> bool:
        """Whether this remote's copy of a pack reaches the end of its last object."""
        end = max((offset + length for _, offset, length in index), default=0)
        try:
            return end > 0 and len(self.backend.get_range(self.pack_name(index.pack), end - 1, 1)) == 1
        except ObjectNotFound:
            return False

    def list_objects(self) -> Iterator[bytes]:
        for name in self.backend.list(f"{self.prefix}objects/"):
            tail = name.rsplit("/", 1)[-1]
            try:
                yield bytes.fromhex(tail)
            except ValueError:
                continue

    def node(self, node_id: bytes, level: int, what: str) -> ManifestNode:
        return _manifest(node_id, self.get(node_id, what), level, what)

    def walk(self, root: bytes | None, depth: int, what: str, visit: Callable[[bytes, int], bool]) -> None:
        """Call visit(id, depth) for every object of a tree (nodes before leaves).

        A visit that returns False prunes that subtree (already seen).
        """
        if root is None:
            return
        if visit(root, depth) and depth > 0:
            self._walk_below(self.node(root, depth - 1, what), depth - 1, what, visit)

    def _walk_below(self, node: ManifestNode, level: int, what: str, visit: Callable[[bytes, int], bool]) -> None:
        """`walk` of a node's children: all of them visited, then those kept fetched by runs of a pack
        (`get_run`: one ranged read for many, not a round trip each) and walked in their order."""
        children = [child for child, _ in node.entries]
        if level == 0:
            for child in children:
                visit(child, 0)
            return
        for at in range(0, len(children), _WALK_BATCH):  # bounded: a batch of nodes held at once
            kept = [child for child in children[at : at + _WALK_BATCH] if visit(child, level)]
            for run in self.runs(kept):
                for child, data in zip(run, self.get_run(run, what), strict=True):
                    self._walk_below(_manifest(child, data, level - 1, what), level - 1, what, visit)

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
        self.backend.sync(every=self.adopted)
        name = self.log_name(log, seq)
        try:
            self.backend.put_new(name, stored)
        except AlreadyExists:
            # A retried put whose first attempt landed is fine; anything else
            # means another writer used our sequence number.
            if read_bounded(self.backend, name, len(stored), name) != stored:
                raise IntegrityError(
                    f"batch {seq} of this device already exists on {self.backend.url} with other content: "
                    "either another remote of this share is this same store under another URL (keep one name: "
                    "`fog remote remove` the other), or this identity is in use on two machines"
                ) from None
        self.backend.sync()

    def list_logs(self, only: str | None = None) -> dict[str, list[int]]:
        """Every device log on the remote with its sequence numbers, sorted (`only`: that log alone)."""
        logs: dict[str, list[int]] = {}
        for name in self.backend.list(f"{self.prefix}log/" + (f"{only}/" if only else "")):
            parts = name[len(self.prefix) :].split("/")
            # only names fog writes: another name is no batch (never read), and could repeat a number
            if (
                len(parts) == 3
                and len(parts[2]) <= 20
                and parts[2].isascii()
                and parts[2].isdigit()
                and B.seq_name(seq := int(parts[2])) == parts[2]
                and seq
            ):
                logs.setdefault(parts[1], []).append(seq)
        for seqs in logs.values():
            seqs.sort()
        return logs

    # -- prune records (section 14) ------------------------------------------------

    def list_prune_records(self) -> list[tuple[str, str, bool]]:
        """(author log name, intent id, done) of every prune record listed; other names are ignored."""
        out = []
        for name in self.backend.list(f"{self.prefix}prune/"):
            parsed = I.parse_name(name.rsplit("/", 1)[-1])
            if parsed is not None:
                out.append(parsed)
        return sorted(out)

    def put_prune_record(self, log: str, sign_seed: bytes, intent: I.Intent) -> None:
        """Write an intent (or its completion) create-only, signed and sealed, and make it durable.

        Sealed with the prune key of the share's current key epoch, signed by
        the author (`sign_seed`) over its place (section 14). The caller has
        moved the store to format 4 (Remote.allow_signed).
        """
        epoch = self.keys.epoch
        sealed = S.seal_secret(self.keys.prune_key(epoch), intent.to_bytes())
        message = I.signed_message(self.keys.share_id, log, intent.id, intent.done, epoch, sealed)
        stored = Envelope(I.STORED_VERSION, epoch, S.sign(sign_seed, message), sealed).to_bytes()
        self.backend.put_new(f"{self.prefix}prune/{I.record_name(log, intent.id, done=intent.done)}", stored)
        self.backend.sync()

    def get_prune_record(
        self,
        log: str,
        intent_id: str,
        done: bool,
        *,
        sign_public: bytes | None,
        device_public: bytes,
        user_secrets: Sequence[bytes],
    ) -> I.Intent:
        """Fetch and open one record written by the device whose log name is `log`; IntegrityError if it is not.

        A signed record must verify under `sign_public` (the author's signing
        key from the SyncConfig). A Box-sealed one (0x01) opens with one of
        `user_secrets` from `device_public`, and only from a device without a
        signing key: any holder of the user secret can seal such a record as
        any device, and a device that signs never writes one.

        NotReadableYet (an IntegrityError) when the record cannot be opened here
        yet, through no fault of the remote: signed while the device list lists no
        signing key for its author, or signed and sealed with a key (epoch) this
        device does not hold. Any other IntegrityError (UnreadableObject: not a
        file; a signature, seal or format that fails) means the remote altered or
        made up what is under the name.
        """
        name = f"{self.prefix}prune/{I.record_name(log, intent_id, done=done)}"
        stored = read_bounded(self.backend, name, I.MAX_STORED, name)
        if stored[:1] == bytes([I.STORED_VERSION]):
            if sign_public is None:
                raise NotReadableYet(
                    f"{name}: signed, but the device list in your fog settings lists no signing key for its author"
                )
            env = _envelope(stored, name)
            S.verify(
                sign_public,
                I.signed_message(self.keys.share_id, log, intent_id, done, env.epoch, env.sealed),
                env.signature,
                name,
            )
            try:  # (signed by its author: a key this device lacks, not the remote, stops it here)
                keys = _epoch_keys(self.keys, self.keys.prune_keys, env.epoch, name)
                plain = _open_any(keys, lambda key: S.open_secret(key, env.sealed, name))
            except IntegrityError as exc:
                raise NotReadableYet(str(exc)) from None
        elif stored[:1] == bytes([I.STORED_VERSION_BOX]):
            if sign_public is not None:
                raise IntegrityError(f"{name}: not signed, but its author signs its records (forged with the user key)")
            plain = _open_any(tuple(user_secrets), lambda key: S.open_box(key, device_public, stored[1:], name))
        else:
            raise IntegrityError(f"{name}: unknown prune record version")
        try:
            intent = I.Intent.from_bytes(plain)
        except ValueError as exc:
            raise IntegrityError(f"{name}: undecodable after authentication: {exc}") from exc
        if intent.id != intent_id or intent.done != done or intent.share != self.keys.locator:
            raise IntegrityError(f"{name}: names another record; moved by the remote")
        return intent

    def get_batch(self, log: str, seq: int) -> bytes:
        """A stored batch's bytes (at most B.MAX_STORED). Its first 64 KiB are read first: most batches end
        there (one read, as before); a larger one is read whole only if its first byte names a batch format
        (a store's large file under a batch name costs no more than that read: review 7, F2)."""
        name = self.log_name(log, seq)
        head = self.backend.get_range(name, 0, BATCH_HEAD_READ)
        if len(head) < BATCH_HEAD_READ:
            return head
        if head[0] not in (B.BATCH_VERSION, B.BATCH_VERSION_BOX):
            raise IntegrityError(
                f"{name} on remote {self.backend.url}: unknown batch format version {head[0]}: refused unread"
            )
        del head
        return read_bounded(self.backend, name, B.MAX_STORED, name)


class ConfigSigner(Protocol):
    """What signs a SyncConfig version: a device (fog.repo.identity.Identity)."""

    master_key: bytes
    device_id: str
    device_public: bytes
    sign_secret: bytes
    sign_public: bytes


def listing_signer(config: SyncConfig, signer: ConfigSigner) -> SyncConfig:
    """`config` with the signer's entry carrying its signing key (readers verify the version with it).

    A device made before signing keys existed publishes its key this way, in
    its first signed version. The entry keeps its own `updated`, so that
    nothing else of it changes in a merge (a concurrent rename still wins).
    """
    entry = config.devices.get(signer.device_id)
    if entry is None:
        raise ValueError("a fog settings version must list the device that signs it")
    if entry.get("sign") == signer.sign_public.hex():
        return config
    return replace(config, devices={**config.devices, signer.device_id: {**entry, "sign": signer.sign_public.hex()}})


def _signed(version: int, context: bytes, locator: str, signer: ConfigSigner, sealed: bytes) -> bytes:
    """version || signer id (16) || Ed25519(context || locator (16) || signer id || sealed) || sealed."""
    who = bytes.fromhex(signer.device_id)
    return bytes([version]) + who + S.sign(signer.sign_secret, context + bytes.fromhex(locator) + who + sealed) + sealed


def _verify_signed(stored: bytes, context: bytes, locator: str, entry: dict[str, Any] | None, what: str) -> None:
    """Check a signed config version or rotation record against its signer's entry; IntegrityError otherwise.

    The signer must be listed, trusted, with a signing key bound to its id
    (`K.device_id` of both keys; or of the Box key alone for a device made
    before signing keys, whose key `_check_signers` pins).
    """
    who = stored[1:17]
    if len(stored) < 1 + 16 + S.SIGNATURE_BYTES:
        raise IntegrityError(f"{what}: truncated")
    if entry is None or not entry.get("sign") or not entry.get("public"):
        raise IntegrityError(f"{what}: signed by device {who.hex()[:8]}, which is not a device of this user")
    try:
        public, sign = bytes.fromhex(entry["public"]), bytes.fromhex(entry["sign"])
    except (ValueError, TypeError):
        raise IntegrityError(f"{what}: its signer's keys are malformed") from None
    if who.hex() not in (K.device_id(public, sign), K.device_id(public)):
        raise IntegrityError(f"{what}: device {who.hex()[:8]}'s keys do not match its id (forged entry)")
    if entry.get("trusted", True) is not True:
        raise IntegrityError(f"{what}: signed by an untrusted device")
    sig, sealed = stored[17 : 17 + S.SIGNATURE_BYTES], stored[17 + S.SIGNATURE_BYTES :]
    S.verify(sign, context + bytes.fromhex(locator) + who + sealed, sig, what)


def _check_signers(merged: SyncConfig, base: SyncConfig | None, signers: list[tuple[str, str | None]]) -> None:
    """Place-wide rules on the versions just merged (docs/FORMAT.md, section 15)."""
    revoked = merged.revoked_by_rotation
    for what, signer in signers:
        if signer is None and merged.rotation is not None:
            raise IntegrityError(f"{what}: unsigned, at a place made by a key rotation (forged)")
        if signer in revoked:
            name = merged.devices.get(signer, {}).get("name", signer[:8])
            raise IntegrityError(f"{what}: signed by device {name!r}, which was revoked (refused)")
    for did, entry in merged.devices.items():
        if not entry.get("sign"):
            continue
        known = (base.devices.get(did) or {}).get("sign") if base is not None else None
        if known and known != entry["sign"]:
            raise IntegrityError(f"the signing key of device {entry.get('name', did[:8])!r} changed (forged entry)")
        try:
            ok = did in (
                K.device_id(bytes.fromhex(entry["public"]), bytes.fromhex(entry["sign"])),
                K.device_id(bytes.fromhex(entry["public"])),
            )
        except (ValueError, TypeError, KeyError):
            ok = False
        if not ok:
            raise IntegrityError(f"device {did[:8]} in your fog settings: its keys do not match its id (forged entry)")


def _open_any(keys: tuple[bytes, ...], attempt: Callable[[bytes], T]) -> T:
    """`attempt` with each key in turn; the first key's failure if none opens it.

    The keys are every epoch's, newest first (after a key rotation, data
    written before it is sealed with an older epoch's key: docs/FORMAT.md,
    section 15), or every user secret a legacy batch may be sealed to. A
    failed open costs one Poly1305 over the bytes, so old data pays that once
    per read.
    """
    if not keys:
        raise ValueError("no key to open with")
    first: IntegrityError | None = None
    try:
        for key in keys:
            try:
                return attempt(key)
            except IntegrityError as exc:
                first = first or exc
        assert first is not None
        raise first
    finally:
        first = None  # (else this frame and the exception's traceback hold each other: review 7, F3)


BATCH_HEAD_READ = 64 << 10  # a batch's first read (ShareStore.get_batch)


def read_bounded(backend: Backend, name: str, limit: int, what: str) -> bytes:
    """The whole object `name`, fetched as one range of at most `limit` + 1 bytes.

    Every whole-object read has a natural bound (a batch, a SyncConfig
    version, a pack, a loose object); a remote that stores more under such a
    name is refused (UnreadableObject, exit 4) without reading the rest.
    """
    stored_size = getattr(backend, "stored_size", None)  # a local directory knows it: refused before a read
    if stored_size is None or stored_size(name) <= limit:
        data = backend.get_range(name, 0, limit + 1)
        if len(data) <= limit:
            return data
    raise UnreadableObject(
        f"{what} on remote {backend.url} is larger than {limit} bytes, more than fog ever writes there: refused"
    )


def seal_batch(sign_seed: bytes, keys: K.ShareKeys, batch: B.EventBatch) -> bytes:
    """A batch as stored (0x02, docs/FORMAT.md, section 9): sealed with the batch key of the share's
    current key epoch, signed by the writer (`sign_seed`) over its place, epoch and sealed bytes."""
    epoch = keys.epoch
    sealed = S.seal_secret(keys.batch_key(epoch), batch.to_bytes())
    signature = S.sign(sign_seed, B.signed_message(keys.share_id, batch.log, batch.seq, epoch, sealed))
    return Envelope(B.BATCH_VERSION, epoch, signature, sealed).to_bytes()


def is_signed_batch(stored: bytes) -> bool:
    """Whether stored batch bytes claim the signed format (0x02); nothing is verified."""
    return stored[:1] == bytes([B.BATCH_VERSION])


def verify_batch(keys: K.ShareKeys, log: str, seq: int, sign_public: bytes, stored: bytes, what: str) -> int:
    """Check a signed batch's signature for its place (this share, `log`, `seq`); its key epoch.

    Nothing is decrypted: a forged or moved batch is refused before any key
    touches it, and a reader learns the epoch (which it may not hold yet).
    """
    if len(stored) < SIGNED_HEADER + MIN_SEALED:
        raise IntegrityError(f"{what}: too short for a signed record")
    epoch = int.from_bytes(stored[1:5], "big")
    view = memoryview(stored)  # (the sealed bytes are not copied: a batch may be up to B.MAX_STORED)
    try:
        prefix = B.signed_prefix(keys.share_id, log, seq, epoch)
        S.verify_parts(sign_public, (prefix, view[SIGNED_HEADER:]), bytes(view[5:SIGNED_HEADER]), what)
    finally:
        view.release()
    return epoch


def open_verified_batch(keys: K.ShareKeys, stored: bytes, what: str) -> B.EventBatch:
    """Decrypt and decode a signed batch whose signature `verify_batch` checked."""
    return _decode_batch(_open_verified(keys, stored, what), what)


def _open_verified(keys: K.ShareKeys, stored: bytes, what: str) -> bytes:
    env = _envelope(stored, what)
    held = _epoch_keys(keys, keys.batch_keys, env.epoch, what)
    try:
        return _open_any(held, lambda key: S.open_secret(key, env.sealed, what))
    except IntegrityError:
        if env.epoch < 1:
            raise
        # signed by a device this one trusts, yet sealed with a key of that epoch it does not hold
        raise IntegrityError(
            f"{what}: sealed with a key of epoch {env.epoch} this device does not hold (another device started "
            "that key epoch at the same time and its fog settings have not reached this remote yet, or two "
            "devices rotated the keys at once: then `fog key adopt --master-key-file F`)"
        ) from None


def open_box_batch(user_secrets: Sequence[bytes], device_public: bytes, stored: bytes, what: str) -> B.EventBatch:
    """Open an unsigned batch (0x01, written before format 4) from `device_public` with one of the user secrets.

    It proves only that a holder of a user secret sealed it (Box is
    symmetric): readers accept it only as section 9 allows.
    """
    return _decode_batch(_open_box(user_secrets, device_public, stored, what), what)


def _open_box(user_secrets: Sequence[bytes], device_public: bytes, stored: bytes, what: str) -> bytes:
    if stored[:1] != bytes([B.BATCH_VERSION_BOX]):
        raise IntegrityError(f"{what}: unknown batch format version")
    return _open_any(tuple(user_secrets), lambda key: S.open_box(key, device_public, stored[1:], what))


def open_batch(
    stored: bytes,
    what: str,
    *,
    keys: K.ShareKeys,
    log: str,
    seq: int,
    sign_public: bytes | None,
    device_public: bytes,
    user_secrets: Sequence[bytes],
) -> B.EventBatch:
    """Verify and open a stored batch of either format found at (`log`, `seq`); IntegrityError otherwise.

    Whether an unsigned batch may be accepted at all is the reader's rule
    (fog.sync.logs.read_log), not this function's.
    """
    plain = _open_batch(stored, what, keys, log, seq, sign_public, device_public, user_secrets)
    return _decode_batch(plain, what)


def open_batch_head(
    stored: bytes,
    what: str,
    *,
    keys: K.ShareKeys,
    log: str,
    seq: int,
    sign_public: bytes | None,
    device_public: bytes,
    user_secrets: Sequence[bytes],
) -> B.BatchHead:
    """Verify and open a stored batch as open_batch does, decoding only its head (no version)."""
    plain = _open_batch(stored, what, keys, log, seq, sign_public, device_public, user_secrets)
    try:
        return B.read_head(plain)
    except ValueError as exc:
        raise IntegrityError(f"{what}: undecodable after authentication: {exc}") from exc


def _open_batch(
    stored: bytes,
    what: str,
    keys: K.ShareKeys,
    log: str,
    seq: int,
    sign_public: bytes | None,
    device_public: bytes,
    user_secrets: Sequence[bytes],
) -> bytes:
    """The plaintext of a stored batch of either format, its signature (if signed) checked first."""
    if is_signed_batch(stored):
        if sign_public is None:
            raise IntegrityError(
                f"{what}: signed, but the device list in your fog settings lists no signing key for its device"
            )
        verify_batch(keys, log, seq, sign_public, stored, what)
        return _open_verified(keys, stored, what)
    return _open_box(user_secrets, device_public, stored, what)


def _envelope(stored: bytes, what: str) -> Envelope:
    try:
        return Envelope.from_bytes(stored)
    except ValueError as exc:
        raise IntegrityError(f"{what}: {exc}") from exc


def _epoch_keys(
    keys: K.ShareKeys, keys_of: Callable[[int], tuple[bytes, ...]], epoch: int, what: str
) -> tuple[bytes, ...]:
    """`keys_of(epoch)` (keys.batch_keys or keys.prune_keys: the epoch's key, then its others); IntegrityError
    for an epoch this device does not hold."""
    try:
        return keys_of(epoch)
    except ValueError:
        raise IntegrityError(f"{what}: sealed with key epoch {epoch}, which this device does not hold yet") from None


def _decode_batch(plain: bytes, what: str) -> B.EventBatch:
    try:
        return B.EventBatch.from_bytes(plain)
    except (ValueError, zstandard.ZstdError) as exc:
        raise IntegrityError(f"{what}: undecodable after authentication: {exc}") from exc


assert MAX_ENTRIES * 40 + 8 <= O.MAX_BLOCK


def _manifest(node_id: bytes, data: bytes, level: int, what: str) -> ManifestNode:
    """A manifest node's verified bytes decoded; IntegrityError when malformed or not of `level`."""
    try:
        node = ManifestNode.from_bytes(data)
    except ValueError as exc:
        raise IntegrityError(f"manifest {node_id.hex()[:16]} of {what}: {exc}") from exc
    if node.level != level:
        raise IntegrityError(f"manifest {node_id.hex()[:16]} of {what}: wrong tree level")
    return node
