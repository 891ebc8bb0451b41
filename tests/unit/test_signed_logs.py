"""Reading signed and unsigned logs (fog.sync.logs.read_log), revocation limits, signed prune records.

Real stores on a local directory; batches are sealed as fog writes them
(fog.store.seal_batch) or as fog wrote them before store format 4 (Box).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fog.backends.local import LocalBackend
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import IntegrityError, NotReadableYet
from fog.format import intent as I
from fog.format.batch import BATCH_VERSION_BOX, EventBatch, chain_hash
from fog.format.signed import Envelope
from fog.store import ShareStore, seal_batch
from fog.sync.context import user_secrets
from fog.sync.logs import LogOwner, VerifiedBatch, accepted_limit, read_log


class Log:
    """One device's log in one share on a local store, written batch by batch."""

    def __init__(self, tmp_path: Path, keys: K.ShareKeys | None = None) -> None:
        self.store = ShareStore(
            LocalBackend.from_url(str(tmp_path / "remote"), create=True), keys or K.ShareKeys.generate()
        )
        self.dev_sk, self.dev_pk = S.new_keypair()
        self.user_sk, self.user_pk = S.new_keypair()
        self.seed, self.sign_pk = S.new_signing_key()
        self.name = K.device_log_name(self.store.keys.share_id, self.dev_pk)
        self.chains: list[bytes] = []

    def batch(self) -> EventBatch:
        seq = len(self.chains) + 1
        return EventBatch(
            self.store.keys.locator, self.name, "d" * 32, seq, self.chains[-1] if self.chains else None, seq
        )

    def put(self, stored: bytes) -> bytes:
        self.store.backend.put(self.store.log_name(self.name, len(self.chains) + 1), stored)
        self.chains.append(chain_hash(stored))
        return stored

    def signed(self, seed: bytes | None = None, keys: K.ShareKeys | None = None) -> bytes:
        return self.put(seal_batch(seed or self.seed, keys or self.store.keys, self.batch()))

    def boxed(self, sealer: bytes | None = None, recipient: bytes | None = None) -> bytes:
        """An unsigned batch: by default as the device sealed it; (user secret, device public) forges it."""
        box = S.seal_box(sealer or self.dev_sk, recipient or self.user_pk, self.batch().to_bytes())
        return self.put(bytes([BATCH_VERSION_BOX]) + box)

    def owner(self, *, sign: bool = True, signs: bool | None = None) -> LogOwner:
        return LogOwner("desk", self.dev_pk, self.sign_pk if sign else None, sign if signs is None else signs)

    def read(
        self, owner: LogOwner, cursor: tuple[int, bytes | None] = (0, None), notes: list[str] | None = None
    ) -> tuple[list[int], list[int]]:
        """(seqs yielded, seqs held back)."""
        held: list[VerifiedBatch] = []
        seqs = list(range(1, len(self.chains) + 1))
        got = [
            vb.seq
            for vb in read_log(self.store, [self.user_sk], owner, self.name, cursor, seqs, notes=notes, held=held)
        ]
        return got, [vb.seq for vb in held]


def test_a_device_without_a_signing_key_is_read_as_before(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.boxed()
    log.boxed()
    assert log.read(log.owner(sign=False)) == ([1, 2], [])


def test_unsigned_batches_of_a_signing_device_wait_for_a_signed_one(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.boxed()
    log.boxed()
    assert log.read(log.owner()) == ([], [1, 2])  # held back, silently: no error, nothing yielded
    log.signed()
    assert log.read(log.owner()) == ([1, 2, 3], [])  # batch 3's prev vouches for 2, and 2's for 1
    log.boxed()
    assert log.read(log.owner(), (3, log.chains[2])) == ([], [4])
    log.signed()
    log.boxed()
    assert log.read(log.owner(), (3, log.chains[2])) == ([4, 5], [6])


def test_a_forged_unsigned_batch_is_never_yielded(tmp_path: Path) -> None:
    """A holder of the user secret seals a batch that opens as the device's own (Box is symmetric)."""
    log = Log(tmp_path)
    log.signed()
    log.boxed(sealer=log.user_sk, recipient=log.dev_pk)
    notes: list[str] = []
    assert log.read(log.owner(), notes=notes) == ([1], [2])
    assert notes == []


def test_a_batch_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.boxed()
    log.signed(seed=S.new_signing_key()[0])  # another device's key: it vouches for nothing
    with pytest.raises(IntegrityError, match="batch 2 in the log of device 'desk'.*signature does not verify"):
        log.read(log.owner())


def test_a_key_epoch_not_held_yet_stops_the_log_quietly(tmp_path: Path) -> None:
    keys = K.ShareKeys.generate()
    rotated = keys.rotated()
    log = Log(tmp_path, keys)
    log.signed()
    log.boxed()
    log.signed(keys=rotated)  # written by a device that has seen a key rotation this reader has not
    log.signed(keys=rotated)
    notes: list[str] = []
    assert log.read(log.owner(), notes=notes) == ([1], [])  # batch 2 waits: batch 3 may vouch for it
    assert len(notes) == 1 and "batch 3 of device 'desk'" in notes[0]
    assert "sealed with key epoch 1, which this device does not hold yet" in notes[0]
    log.store.keys = rotated  # once the reader holds the epoch, the rest follows
    assert log.read(log.owner(), (1, log.chains[0])) == ([2, 3, 4], [])


def test_a_forged_batch_with_an_unknown_epoch_is_still_refused(tmp_path: Path) -> None:
    """The signature is checked before the epoch: a forgery does not pass for a rotation race."""
    keys = K.ShareKeys.generate()
    log = Log(tmp_path, keys)
    log.signed(seed=S.new_signing_key()[0], keys=keys.rotated())
    with pytest.raises(IntegrityError, match="signature does not verify"):
        log.read(log.owner(), notes=[])


def test_a_signed_batch_of_a_device_listed_without_a_key_waits(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.boxed()
    log.signed()
    notes: list[str] = []
    assert log.read(log.owner(sign=False), notes=notes) == ([1], [])
    assert len(notes) == 1 and "lists no signing key" in notes[0]


def test_own_log_before_the_key_is_listed(tmp_path: Path) -> None:
    """A device reading its own log verifies its signed batches with its own key; its unsigned ones
    count as a reader counts them: alone, while its SyncConfig entry lists no key."""
    log = Log(tmp_path)
    log.boxed()
    log.signed()
    log.boxed()
    assert log.read(log.owner(signs=False)) == ([1, 2, 3], [])
    assert log.read(log.owner()) == ([1, 2], [3])


def test_a_moved_signed_batch_is_refused(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.signed()
    first = log.signed()
    log.store.backend.put(log.store.log_name(log.name, 3), first)  # batch 2 again as batch 3
    log.chains.append(chain_hash(first))
    with pytest.raises(IntegrityError, match="batch 3.*signature does not verify"):
        log.read(log.owner(), (2, log.chains[1]))


# -- revocation limits ---------------------------------------------------------------------------------

SHARE = "ab" * 16


@pytest.mark.parametrize(
    "entry,expected",
    [
        ({"revoked": 0, "revoked_logs": {SHARE: {"origin": 3}}}, None),
        ({}, None),
        ({"revoked": 5, "revoked_logs": {SHARE: {"origin": 3, "usb": 9}}, "revoked_seq": {SHARE: 7}}, 3),
        ({"revoked": 5, "revoked_logs": {SHARE: {"usb": 9}}, "revoked_seq": {SHARE: 7}}, 7),
        ({"revoked": 5, "revoked_logs": {"cd" * 16: {"origin": 9}}}, 0),
        ({"revoked": 5, "revoked_seq": {"cd" * 16: 4}}, 0),
        ({"revoked": 5}, 0),
        ({"revoked": 5, "revoked_logs": {SHARE: {"origin": "3"}}}, 0),
        ({"revoked": 5, "revoked_logs": [1], "revoked_seq": {SHARE: True}}, 0),
    ],
)
def test_accepted_limit(entry: dict, expected: int | None) -> None:
    assert accepted_limit(entry, SHARE, "origin") == expected


# -- prune records ------------------------------------------------------------------------------------


def intent(keys: K.ShareKeys, *, done: bool = False, ident: str = "ef" * 16) -> I.Intent:
    return I.Intent(ident, keys.locator, "d" * 32, 1, (b"\x01" * 32,), {}, done=done)


def get(log: Log, ident: str = "ef" * 16, done: bool = False, *, sign: bool = True) -> I.Intent:
    return log.store.get_prune_record(
        log.name,
        ident,
        done,
        sign_public=log.sign_pk if sign else None,
        device_public=log.dev_pk,
        user_secrets=[log.user_sk],
    )


def record_path(log: Log, ident: str = "ef" * 16, done: bool = False) -> Path:
    return log.store.backend.root / log.store.prefix / "prune" / I.record_name(log.name, ident, done=done)  # type: ignore[attr-defined]


def test_prune_records_are_signed_and_placed(tmp_path: Path) -> None:
    log = Log(tmp_path)
    keys = log.store.keys
    log.store.put_prune_record(log.name, log.seed, intent(keys))
    log.store.put_prune_record(log.name, log.seed, intent(keys, done=True))
    assert get(log) == intent(keys) and get(log, done=True) == intent(keys, done=True)
    stored = record_path(log).read_bytes()
    assert stored[0] == I.STORED_VERSION == 0x02
    env = Envelope.from_bytes(stored)
    message = b"fog/v1/prune\0" + keys.share_id + bytes.fromhex(log.name) + b"\xef" * 16 + b"\0" + bytes(4) + env.sealed
    S.verify(log.sign_pk, message, env.signature, "spec")
    assert S.open_secret(keys.prune_key(0), env.sealed, "spec") == intent(keys).to_bytes()
    for i in range(len(stored)):
        record_path(log).write_bytes(stored[:i] + bytes([stored[i] ^ 0x04]) + stored[i + 1 :])
        with pytest.raises(IntegrityError) as refused:
            get(log)
        assert not isinstance(refused.value, NotReadableYet)  # the remote's doing: readers say so (exit 4)
    for size in (0, 1, 5, 70, len(stored) - 1):
        record_path(log).write_bytes(stored[:size])
        with pytest.raises(IntegrityError) as refused:
            get(log)
        assert not isinstance(refused.value, NotReadableYet)
    # the intent renamed as its completion, or as another intent: its signature names its place
    record_path(log).write_bytes(stored)
    record_path(log, done=True).write_bytes(stored)
    with pytest.raises(IntegrityError, match="signature does not verify"):
        get(log, done=True)
    record_path(log, "aa" * 16).write_bytes(stored)
    with pytest.raises(IntegrityError, match="signature does not verify"):
        get(log, "aa" * 16)
    with pytest.raises(IntegrityError, match="signature does not verify"):
        log.store.get_prune_record(
            log.name, "ef" * 16, False, sign_public=S.new_signing_key()[1], device_public=log.dev_pk, user_secrets=[]
        )
    with pytest.raises(NotReadableYet, match="lists no signing key"):  # (a device list this device has not read)
        get(log, sign=False)


def test_prune_records_of_an_epoch_not_held_are_refused(tmp_path: Path) -> None:
    log = Log(tmp_path)
    keys = log.store.keys
    ShareStore(log.store.backend, keys.rotated()).put_prune_record(log.name, log.seed, intent(keys))
    with pytest.raises(NotReadableYet, match="key epoch 1, which this device does not hold"):
        get(log)


def test_unsigned_prune_records_count_only_from_devices_that_do_not_sign(tmp_path: Path) -> None:
    log = Log(tmp_path)
    keys = log.store.keys
    path = record_path(log)
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes([I.STORED_VERSION_BOX]) + S.seal_box(log.dev_sk, log.user_pk, intent(keys).to_bytes()))
    assert get(log, sign=False) == intent(keys)
    # any holder of the user secret could have sealed it as this device, which signs its own
    with pytest.raises(IntegrityError, match="not signed, but its author signs"):
        get(log)


# -- user secrets for unsigned records ------------------------------------------------------------------


class _Ident:
    """What fog.sync.context.user_secrets reads of an identity."""

    def __init__(self, secret: bytes, config: object) -> None:
        self.user_secret, self._config = secret, config

    def cached_config(self) -> object:
        return self._config


class _Config:
    def __init__(self, doc: dict) -> None:
        self.doc = doc

    def to_json(self) -> dict:
        return self.doc


def test_user_secrets_are_the_identitys_then_the_old_ones() -> None:
    current, old1, old2 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
    listed = [{"public": "00" * 32, "secret": old1.hex()}, {"secret": "zz"}, {"secret": "01" * 31}, 5, {}]
    listed.append({"public": "00" * 32, "secret": old2.hex()})
    listed.append({"secret": current.hex()})
    assert user_secrets(_Ident(current, None)) == (current,)  # type: ignore[arg-type]
    assert user_secrets(_Ident(current, _Config({"format": 1}))) == (current,)  # type: ignore[arg-type]
    found = user_secrets(_Ident(current, _Config({"user_old": listed})))  # type: ignore[arg-type]
    assert found == (current, old1, old2)
    config = _Config({})
    config.user_old = listed  # type: ignore[attr-defined]  # a SyncConfig that keeps them as an attribute
    assert user_secrets(_Ident(current, config)) == (current, old1, old2)  # type: ignore[arg-type]
    assert user_secrets(_Ident(current, _Config({"user_old": "not a list"}))) == (current,)  # type: ignore[arg-type]
