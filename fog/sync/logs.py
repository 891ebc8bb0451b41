"""Reading device logs: verify seals, sequence numbers and the hash chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fog.crypto.keys import device_log_name
from fog.errors import IntegrityError, ObjectNotFound
from fog.format.batch import EventBatch, chain_hash
from fog.store import ShareStore, open_batch


@dataclass(frozen=True)
class VerifiedBatch:
    seq: int
    chain: bytes  # SHA256 of the stored bytes: what the next batch must name
    batch: EventBatch


def read_log(
    store: ShareStore,
    user_secret: bytes,
    device_public: bytes,
    log: str,
    device_name: str,
    cursor: tuple[int, bytes | None],
    remote_seqs: list[int],
) -> Iterator[VerifiedBatch]:
    """Yield the batches after `cursor`, each verified, or raise IntegrityError.

    Detects a remote that shows fewer batches than we have seen (rollback or
    deletion), one whose batch at our cursor no longer hashes to what we saw
    (rewritten history), gaps in the numbering, a broken chain, and batches
    not sealed by the device whose log they are in.
    """
    seen_seq, seen_chain = cursor
    top = remote_seqs[-1] if remote_seqs else 0
    where = f"log of device {device_name!r} on {store.backend.url}"
    if top < seen_seq:
        raise IntegrityError(
            f"{where} ends at batch {top}, but batch {seen_seq} was seen before: the remote was rolled back"
        )
    expected = list(range(1, top + 1))
    if remote_seqs != expected:
        missing = sorted(set(expected) - set(remote_seqs))
        raise IntegrityError(f"{where} is missing batches {missing[:5]}: deleted or withheld by the remote")
    chain = seen_chain
    if seen_seq:
        stored = _get(store, log, seen_seq, where)
        if chain_hash(stored) != seen_chain:
            raise IntegrityError(f"{where}: batch {seen_seq} changed since it was read (history rewritten)")
    for seq in range(seen_seq + 1, top + 1):
        stored = _get(store, log, seq, where)
        what = f"batch {seq} in the {where}"
        batch = open_batch(user_secret, device_public, stored, what)
        if batch.seq != seq or batch.log != log or batch.share != store.keys.locator:
            raise IntegrityError(f"{what}: names a different place (seq {batch.seq}); moved by the remote")
        if batch.prev != chain:
            raise IntegrityError(f"{what}: hash chain broken (does not follow batch {seq - 1})")
        chain = chain_hash(stored)
        yield VerifiedBatch(seq, chain, batch)


def logs_by_name(share_id: bytes, devices: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each device's log name in this share -> (device id, its SyncConfig entry)."""
    return {device_log_name(share_id, bytes.fromhex(d["public"])): (did, d) for did, d in devices.items()}


AUDIT_BATCHES = 8  # batches below the cursor re-verified per log and pull (audit_log)


def audit_log(
    store: ShareStore,
    user_secret: bytes,
    device_public: bytes,
    log: str,
    device_name: str,
    cursor: tuple[int, bytes | None],
    anchor: tuple[int, bytes | None],
    remote_seqs: list[int],
    budget: int = AUDIT_BATCHES,
) -> tuple[int, bytes | None]:
    """Re-verify up to `budget` batches already read, down the hash chain; return the next anchor.

    `read_log` checks only the batch at the cursor, so a remote could swap or
    replace earlier batches unseen (a new clone then refuses the whole log).
    Each batch names the hash of its predecessor: from a batch whose hash is
    known (the cursor's, or the `anchor` where the last walk stopped), the
    hash of every earlier batch follows, and a batch changed, swapped or moved
    below the cursor breaks the walk (IntegrityError). The walk resumes at the
    anchor and restarts from the cursor once it has reached batch 1, so a log
    of n batches is verified whole every ceil(n / budget) calls, at every call
    while n <= budget. A listing `read_log` refuses (rolled back, gaps) is left
    to it. Returns (0, None) when the next call starts again from the cursor.
    """
    seen, chain = cursor
    top = remote_seqs[-1] if remote_seqs else 0
    if not seen or chain is None or top < seen or remote_seqs[:seen] != list(range(1, seen + 1)):
        return 0, None
    seq, want = anchor if anchor[0] and anchor[1] is not None and anchor[0] <= seen else cursor
    assert want is not None
    where = f"log of device {device_name!r} on {store.backend.url}"
    for _ in range(budget):
        stored = _get(store, log, seq, where)
        if chain_hash(stored) != want:
            raise IntegrityError(
                f"{where}: batch {seq} changed since it was read (history rewritten, or batches reordered)"
            )
        batch = open_batch(user_secret, device_public, stored, f"batch {seq} in the {where}")
        if batch.seq != seq or batch.log != log or batch.share != store.keys.locator:
            raise IntegrityError(f"batch {seq} in the {where}: names a different place (seq {batch.seq})")
        if seq == 1:
            if batch.prev is not None:
                raise IntegrityError(f"batch 1 in the {where}: names a predecessor")
            return 0, None
        if batch.prev is None:
            raise IntegrityError(f"batch {seq} in the {where}: hash chain broken (names no predecessor)")
        seq, want = seq - 1, batch.prev
    return seq, want


def _get(store: ShareStore, log: str, seq: int, where: str) -> bytes:
    try:
        return store.get_batch(log, seq)
    except ObjectNotFound:
        raise IntegrityError(f"{where}: batch {seq} vanished from the remote") from None
