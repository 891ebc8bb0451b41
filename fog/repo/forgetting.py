"""Forgotten versions in the share database: RepoDB's part that forgets (a mixin of fog.repo.db.RepoDB).

A version forgotten here (`fog forget`) or by any device whose batch this
device read is recorded in the `forgotten` sub-database for good and leaves
the history; docs/FORMAT.md, section 8 ("Forgotten versions") has the rules
and section 12 the layout.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import lmdb

from fog.format.version import Version
from fog.repo.history import Check, history_ids, history_tag, pathkey, version_key

_U64 = struct.Struct(">Q")
_KEPT = b"forgotten-heads"  # meta key: ids (32 each) forgotten elsewhere but this device's live heads
# meta key prefix (+ a deletion's id): when this device recorded the deletion (ns, 8 bytes big-endian, its
# clock). keep-deleted counts from it too (fog.sync.retention rule 2): a deletion's own time is its device's clock
DELETION_RECORDED = b"deletion-recorded\0"


@dataclass
class Forgot:
    """What RepoDB.forget_versions did."""

    removed: list[Version] = field(default_factory=list)  # dropped from the history
    kept: list[Version] = field(default_factory=list)  # this device's heads of live paths: listed until superseded
    new: list[bytes] = field(default_factory=list)  # ids not forgotten here before


class Forgetting:
    """Forgetting versions; mixed into RepoDB, whose sub-databases (`db`) and lookups it uses."""

    if TYPE_CHECKING:
        db: dict[str, Any]

        def version(self, version_id: bytes, txn: lmdb.Transaction | None = None) -> Version | None: ...
        def read(self) -> lmdb.Transaction: ...
        def span(self, txn: lmdb.Transaction) -> Check: ...
        def _queue_keys(self, txn: lmdb.Transaction, name: str) -> list[bytes]: ...

    def is_forgotten(self, version_id: bytes, txn: lmdb.Transaction) -> bool:
        return txn.get(version_id, db=self.db["forgotten"]) is not None

    def forget_versions(self, txn: lmdb.Transaction, ids: Iterable[bytes | Version]) -> Forgot:
        """Forget versions, given by id or as read (`fog forget` here, or a forget read in any device's batch).

        Each id is recorded in `forgotten`, so the version is never recorded
        again (add_version, add_unknown_versions), even when it arrives
        later through another log or remote; and it leaves every outbox of
        versions. A recorded version leaves `versions`, `timeline` and
        `history`; a path whose head it was gets as head its newest
        remaining version by (time_ns, id), or none. One exception: this
        device's head of a live path (not a deletion) stays listed, because
        the device forgetting it saw it superseded by a version this one
        may not have yet. It goes as soon as a head replaces it here
        (`_release_kept`, run whenever heads are set).
        """
        db = self.db
        out = Forgot()
        kept = self._kept(txn)
        refix: dict[bytes, str] = {}
        gone: list[bytes] = []
        for item in {(i if isinstance(i, bytes) else i.id): i for i in ids}.values():
            # a Version the caller read already (fog forget) is not looked up and decoded again
            vid = item if isinstance(item, bytes) else item.id
            if txn.put(vid, b"", db=db["forgotten"], overwrite=False):
                out.new.append(vid)
            v = self.version(vid, txn) if isinstance(item, bytes) else item if self.has_version(vid, txn) else None
            if v is None:
                continue  # never recorded here (or already dropped): recorded as forgotten only
            gone.append(vid)
            pk = pathkey(v.path)
            head = txn.get(pk, db=db["heads"])
            if head == vid and not v.deleted:
                if vid not in kept:
                    kept.append(vid)
                    out.kept.append(v)
                continue
            self._drop_record(txn, v)
            out.removed.append(v)
            if head == vid:
                refix[pk] = v.path
        for pk, path in refix.items():
            newest = max(self._records(txn, path), key=lambda v: (v.time_ns, v.id), default=None)
            if newest is None:
                txn.delete(pk, db=db["heads"])
            else:
                txn.put(pk, newest.id, db=db["heads"])
        for rk in self._queue_keys(txn, "pending"):
            for vid in gone:
                txn.delete(rk + vid, db=db["pending"])
        self._set_kept(txn, kept)
        return out

    def forgotten_heads(self, txn: lmdb.Transaction | None = None) -> list[bytes]:
        """Ids forgotten elsewhere that stay listed here as this device's heads of live paths."""
        if txn is None:
            with self.read() as t:
                return self._kept(t)
        return self._kept(txn)

    def _records(self, txn: lmdb.Transaction, path: str) -> Iterator[Version]:
        db = self.db
        for vid in history_ids(txn, db["history"], db["versions"], db["timeline"], path, self.span(txn)):
            v = self.version(vid, txn)
            if v is not None:
                yield v

    def _drop_record(self, txn: lmdb.Transaction, v: Version) -> None:
        """Remove a version from `versions`, `timeline` and `history` (heads: the caller's business)."""
        when = _U64.pack(v.time_ns)
        txn.delete(v.id, db=self.db["versions"])  # an entry a format-1 to -4 fog wrote
        timeline = self.db["timeline"]
        txn.delete(when + v.id, db=timeline)
        key = version_key(v.id)
        cur = txn.cursor(timeline)  # the format-5 entry `key · time_ns` may index another version too (key: a prefix)
        if not (cur.set_range(when + key) and cur.key().startswith(when + key)):
            txn.delete(key + when, db=self.db["versions"])
        txn.delete(pathkey(v.path) + when + history_tag(v.id), db=self.db["history"])
        if v.deleted:
            txn.delete(DELETION_RECORDED + v.id, db=self.db["meta"])

    def _kept(self, txn: lmdb.Transaction) -> list[bytes]:
        raw = txn.get(_KEPT, db=self.db["meta"]) or b""
        return [raw[i : i + 32] for i in range(0, len(raw), 32)]

    def _set_kept(self, txn: lmdb.Transaction, ids: list[bytes]) -> None:
        if ids:
            txn.put(_KEPT, b"".join(ids), db=self.db["meta"])
        else:
            txn.delete(_KEPT, db=self.db["meta"])

    def _release_kept(self, txn: lmdb.Transaction) -> None:
        """Drop the forgotten versions kept as heads that a new head replaced (one lookup when none)."""
        kept = self._kept(txn)
        if not kept:
            return
        still: list[bytes] = []
        for vid in kept:
            v = self.version(vid, txn)
            if v is None:
                continue
            if txn.get(pathkey(v.path), db=self.db["heads"]) == vid:
                still.append(vid)
            else:
                self._drop_record(txn, v)
        if still != kept:
            self._set_kept(txn, still)
