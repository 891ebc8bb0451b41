"""Reading device logs: verify signatures and seals, sequence numbers and the hash chain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fog.crypto.keys import device_log_name
from fog.errors import IntegrityError, ObjectNotFound
from fog.format.batch import EventBatch, chain_hash
from fog.store import (
    ShareStore,
    is_signed_batch,
    open_batch_head,
    open_box_batch,
    open_verified_batch,
    verify_batch,
)


@dataclass(frozen=True)
class VerifiedBatch:
    seq: int
    chain: bytes  # SHA256 of the stored bytes: what the next batch must name
    batch: EventBatch


@dataclass(frozen=True)
class LogOwner:
    """The device whose log is read, and what verifies its batches (docs/FORMAT.md, section 9)."""

    name: str  # for messages
    public: bytes  # its Box public key: names the log, opens its unsigned (0x01) batches
    sign: bytes | None  # the key its signed batches must verify under (None: the SyncConfig lists none)
    signs: bool  # it signs its batches: an unsigned one counts only below a signed one

    @classmethod
    def of(cls, device_id: str, entry: dict[str, Any]) -> LogOwner:
        """The owner a SyncConfig device entry describes."""
        sign = _sign_key(entry)
        return cls(str(entry.get("name", device_id[:8])), bytes.fromhex(entry["public"]), sign, sign is not None)


def _sign_key(entry: dict[str, Any]) -> bytes | None:
    """The entry's signing key; b"" (nothing verifies under it) when present but malformed."""
    value = entry.get("sign")
    if not value:
        return None
    try:
        key = bytes.fromhex(value)
    except (ValueError, TypeError):
        return b""
    return key if len(key) == 32 else b""


def read_log(
    store: ShareStore,
    user_secrets: Sequence[bytes],
    owner: LogOwner,
    log: str,
    cursor: tuple[int, bytes | None],
    remote_seqs: list[int],
    *,
    notes: list[str] | None = None,
    held: list[VerifiedBatch] | None = None,
    pin: tuple[int, bytes] | None = None,
) -> Iterator[VerifiedBatch]:
    """Yield the batches after `cursor` that are accepted, each verified, or raise IntegrityError.

    Detects a remote that shows fewer batches than we have seen (rollback or
    deletion), one whose batch at our cursor no longer hashes to what we saw
    (rewritten history), gaps in the numbering, a broken chain, and batches
    not written by the device whose log they are in: a signed batch must
    verify under the owner's signing key before anything decrypts it.

    An unsigned (Box-sealed) batch of a device that signs is yielded only
    once a later signed batch of the log follows it (that one's `prev` vouches
    for it through the chain): any holder of the user secret could have
    sealed it. An unsigned tail is held back silently (added to `held`, if
    given), so callers never advance their cursor past it. A signed batch
    sealed with a key epoch the share's keys lack (a key rotation this device
    has not seen yet), or of a device the SyncConfig lists no signing key for
    yet, stops the log for this run: a line for `notes`, no error. `pin`
    (a revoked device's last accepted batch and its chain hash, `accepted_pin`):
    that batch must hash to it, read now or at the cursor (else IntegrityError).
    """
    seen_seq, seen_chain = cursor
    top = remote_seqs[-1] if remote_seqs else 0
    where = f"log of device {owner.name!r} on {store.backend.url}"
    if top < seen_seq:
        raise IntegrityError(
            f"{where} ends at batch {top}, but batch {seen_seq} was seen before: the remote was rolled back"
        )
    if len(remote_seqs) != top:  # (sorted, distinct, from 1: a gap is the only way to differ)
        missing = _first_gaps(remote_seqs, 5)
        more = f" and {top - len(remote_seqs) - len(missing)} more" if top - len(remote_seqs) > len(missing) else ""
        raise IntegrityError(
            f"{where} is missing batches {', '.join(map(str, missing))}{more}: deleted or withheld by the remote"
        )
    chain = seen_chain
    if seen_seq:
        stored = _get(store, log, seen_seq, where)
        if chain_hash(stored) != seen_chain:
            raise IntegrityError(f"{where}: batch {seen_seq} changed since it was read (history rewritten)")
        if pin is not None and pin[0] == seen_seq and pin[1] != seen_chain:
            raise IntegrityError(_unpinned(where, seen_seq))
    unsigned: list[VerifiedBatch] = []
    for seq in range(seen_seq + 1, top + 1):
        stored = _get(store, log, seq, where)
        if pin is not None and pin[0] == seq and pin[1] != chain_hash(stored):
            raise IntegrityError(_unpinned(where, seq))  # (before anything of it is opened)
        what = f"batch {seq} in the {where}"
        signed = is_signed_batch(stored)
        if signed:
            later = _not_yet(store, owner, log, seq, stored, what)
            if later is not None:
                if notes is not None:
                    notes.append(later)
                return  # (the unsigned batches before it are not a tail: it may vouch for them)
            batch = open_verified_batch(store.keys, stored, what)
        else:
            batch = open_box_batch(user_secrets, owner.public, stored, what)
        if batch.seq != seq or batch.log != log or batch.share != store.keys.locator:
            raise IntegrityError(f"{what}: names a different place (seq {batch.seq}); moved by the remote")
        if batch.prev != chain:
            raise IntegrityError(f"{what}: hash chain broken (does not follow batch {seq - 1})")
        chain = chain_hash(stored)
        verified = VerifiedBatch(seq, chain, batch)
        if not signed and owner.signs:
            unsigned.append(verified)  # vouched for only by a signed batch after it
            continue
        yield from unsigned
        unsigned = []
        yield verified
    if held is not None:
        held.extend(unsigned)


def _unpinned(where: str, seq: int) -> str:
    return (
        f"{where}: batch {seq} is not the one the device's revocation accepted (its log was rewritten since: "
        "nothing of it is applied)"
    )


def _not_yet(store: ShareStore, owner: LogOwner, log: str, seq: int, stored: bytes, what: str) -> str | None:
    """Why a signed batch cannot be read in this run (a note), after checking its signature; None if it can."""
    if owner.sign is None:
        return (
            f"batch {seq} of device {owner.name!r} on {store.backend.url} is signed, but the fog settings this device "
            "holds lists no signing key for that device yet: it and the later batches of its log wait for a later run"
        )
    epoch = verify_batch(store.keys, log, seq, owner.sign, stored, what)
    if epoch > store.keys.epoch:
        return (
            f"batch {seq} of device {owner.name!r} on {store.backend.url} is sealed with key epoch {epoch}, which "
            "this device does not hold yet: it and the later batches of its log wait for a later run"
        )
    return None


def logs_by_name(share_id: bytes, devices: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each device's log name in this share -> (device id, its SyncConfig entry)."""
    return {device_log_name(share_id, bytes.fromhex(d["public"])): (did, d) for did, d in devices.items()}


AUDIT_BATCHES = 8  # batches below the cursor re-verified per log and pull (audit_log)


def _first_gaps(seqs: list[int], count: int) -> list[int]:
    """The first `count` numbers from 1 up that sorted, distinct `seqs` lack (never a list as long as the
    highest number: a remote names that one)."""
    missing: list[int] = []
    want = 1
    for seq in seqs:
        while want < seq and len(missing) < count:
            missing.append(want)
            want += 1
        if len(missing) == count:
            break
        want = seq + 1
    return missing


def audit_log(
    store: ShareStore,
    user_secrets: Sequence[bytes],
    owner: LogOwner,
    log: str,
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
    below the cursor breaks the walk (IntegrityError). A signed batch must
    still verify under the owner's key; an unsigned one below the cursor was
    accepted (a signed batch above vouches for it, or its device did not sign).
    Only each batch's head is decoded (fog.format.batch.read_head): its
    versions were checked when it was read, the chain from the cursor pins
    its bytes, and a batch whose head and whole disagree is never read.
    The walk resumes at the anchor and restarts from the cursor once it has
    reached batch 1, so a log of n batches is verified whole every
    ceil(n / budget) calls, at every call while n <= budget. A listing
    `read_log` refuses (rolled back, gaps) is left to it. Returns (0, None)
    when the next call starts again from the cursor.
    """
    seen, chain = cursor
    top = remote_seqs[-1] if remote_seqs else 0
    if not seen or chain is None or top < seen or remote_seqs[:seen] != list(range(1, seen + 1)):
        return 0, None
    seq, want = anchor if anchor[0] and anchor[1] is not None and anchor[0] <= seen else cursor
    assert want is not None
    where = f"log of device {owner.name!r} on {store.backend.url}"
    for _ in range(budget):
        stored = _get(store, log, seq, where)
        if chain_hash(stored) != want:
            raise IntegrityError(
                f"{where}: batch {seq} changed since it was read (history rewritten, or batches reordered)"
            )
        batch = open_batch_head(
            stored,
            f"batch {seq} in the {where}",
            keys=store.keys,
            log=log,
            seq=seq,
            sign_public=owner.sign,
            device_public=owner.public,
            user_secrets=user_secrets,
        )
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


def accepted_limit(dev: dict[str, Any], share_hex: str, remote_name: str) -> int | None:
    """The last batch accepted from a device's log on one remote; None: no limit (not revoked).

    A revoked device's entry may say, per share and per remote, the last
    batch the revoking device had read there (`revoked_logs`, exact: batch
    numbers are per remote), or per share only (`revoked_seq`, older fogs:
    exact on the remote the revoking device used). Without either for this
    share, nothing is accepted (0). A pin (`accepted_pin`) at or below that
    limit is the limit. What a reader read before stays.
    """
    if not dev.get("revoked"):
        return None
    pin = accepted_pin(dev, share_hex, remote_name)
    return pin[0] if pin is not None else _limit(dev, share_hex, remote_name)


def _limit(dev: dict[str, Any], share_hex: str, remote_name: str) -> int:
    """`accepted_limit` by the sequence numbers alone (`revoked_logs`, `revoked_seq`)."""
    per_share = dev.get("revoked_logs")
    logs = per_share.get(share_hex) if isinstance(per_share, dict) else None
    if isinstance(logs, dict) and remote_name in logs:
        return _seq(logs[remote_name])
    legacy = dev.get("revoked_seq")
    if isinstance(legacy, dict) and share_hex in legacy:
        return _seq(legacy[share_hex])
    return 0


def accepted_pin(dev: dict[str, Any], share_hex: str, remote_name: str) -> tuple[int, bytes] | None:
    """The revoked device's last accepted batch on one remote and its chain hash, when the revocation
    pinned it (`revoked_chains`); None: no pin (not revoked, nothing accepted, or a revocation by an older fog).

    The batch at the pin must hash to it, so a log its thief rewrote since (it holds the device's signing
    key and the old epoch's keys) is refused, not applied. A pin above the limit `accepted_limit` gives
    (a merge of two revocations) pins nothing: the lower limit holds, without a hash.
    """
    if not dev.get("revoked"):
        return None
    pins = dev.get("revoked_chains")
    per = pins.get(share_hex) if isinstance(pins, dict) else None
    pin = per.get(remote_name) if isinstance(per, dict) else None
    if not isinstance(pin, dict) or type(pin.get("seq")) is not int or not isinstance(pin.get("chain"), str):
        return None
    try:
        chain = bytes.fromhex(pin["chain"])
    except ValueError:
        return None
    limit = _limit(dev, share_hex, remote_name)
    if pin["seq"] <= 0 or len(chain) != 32 or pin["seq"] > limit:
        return None
    return pin["seq"], chain


def revoked_text(name: str, remote: str, limit: int, top: int, entry: dict[str, Any] | None = None) -> str:
    """One line about a revoked device's batches that are not applied (pull says it once, check at every run).

    `entry` (the device's entry) says why: a revoked device, a read-only member's device, or a device of a
    member removed from the share (fog.sync.members).
    """
    which = (
        f"batch {top} on remote {remote} is"
        if top == limit + 1
        else f"batches {limit + 1} to {top} on remote {remote} are"
    )
    why = "is revoked"
    if entry is not None and entry.get("read_only"):
        why = "belongs to a read-only member"
    elif entry is not None and entry.get("removed_member"):
        why = "belongs to a member removed from the share"
    return f"device {name!r} {why}: its {which} not applied"


def _seq(value: object) -> int:
    """A recorded limit; a malformed one accepts nothing (0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _get(store: ShareStore, log: str, seq: int, where: str) -> bytes:
    try:
        return store.get_batch(log, seq)
    except ObjectNotFound:
        raise IntegrityError(f"{where}: batch {seq} vanished from the remote") from None


def read_before_text(log: str, remote: str, seen: int) -> str:
    """One line about a log this device read batches of before whose device it knows no longer (its entry in
    the fog settings, or its user's member statement, is gone): set aside, and never to be deleted."""
    return (
        f"log {log[:12]} on remote {remote}, read here up to batch {seen}, belongs to no device this device knows "
        "now (its user's member statement or its entry in your fog settings is gone): nothing more of it is "
        "applied; it holds that device's history, do not delete it (see `fog check`)"
    )


def rolled_back_text(name: str, top: int, seen: int, *, node: bool = False) -> str:
    """Why a remote holding an old copy of this device's log is refused, and what to do (README, EXIT STATUS)."""
    return (
        f"this device's log on remote {name} ends at batch {top}, but batch {seen} was seen before: the remote "
        "was rolled back (restored from an older copy?); " + rollback_advice(name, node=node)
    )


def foreign_text(name: str, seq: int, paths: Sequence[str], url: str, root: object) -> str:
    """Why a batch of this device's own log above its cursor that this checkout did not write is refused
    (`paths`: those of the versions in it the checkout never recorded), and the way out."""
    more = ", ..." if len(paths) > 1 else ""
    return (
        f"batch {seq} of this device's log on {name} was not written by this checkout: it carries {len(paths)} "
        f"version(s) it never recorded ({paths[0]}{more}): another machine uses this identity (a copied "
        "FOG_HOME?); give this machine its own: move its FOG_HOME and the share's .fog/ aside, then "
        f"`fog clone {url} {root} --into-existing` (your files are kept)"
    )


def rollback_advice(name: str, *, node: bool = False) -> str:
    """What to do about a remote refused as rolled back (any of its logs, or its SyncConfig versions)."""
    if node:
        # a node's name is a device entry: `remote remove` refuses it, and a removed node stays removed
        return (
            f"if that is what happened, `fog device remove {name}`, then `fog serve` on a new directory and "
            f"`fog device add-untrusted` publish this share's versions on a fresh node"
        )
    return (
        f"if that is what happened, `fog remote renew {name}` (on any one device) accepts it as it is now, for "
        "every device, and publishes their versions there again"
    )
