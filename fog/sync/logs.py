"""Reading device logs: verify seals, sequence numbers and the hash chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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


def _get(store: ShareStore, log: str, seq: int, where: str) -> bytes:
    try:
        return store.get_batch(log, seq)
    except ObjectNotFound:
        raise IntegrityError(f"{where}: batch {seq} vanished from the remote") from None
