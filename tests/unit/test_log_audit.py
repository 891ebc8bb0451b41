"""Re-verifying batches already read (fog.sync.logs.audit_log): a reorder below the cursor is found."""

from __future__ import annotations

from pathlib import Path

import pytest

from fog.backends.local import LocalBackend
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import IntegrityError
from fog.format.batch import EventBatch, chain_hash
from fog.format.version import Version
from fog.store import ShareStore, seal_batch
from fog.sync.logs import LogOwner, audit_log, read_log

LOG = "ab" * 16


@pytest.fixture
def log(tmp_path: Path) -> tuple[ShareStore, list[bytes], LogOwner, list[bytes]]:
    """A log of 20 chained batches, signed; (store, user secrets, its owner, chain hash of each)."""
    store = ShareStore(LocalBackend.from_url(str(tmp_path / "remote"), create=True), K.ShareKeys.generate())
    _, dev_pk = S.new_keypair()
    user_sk, _ = S.new_keypair()
    seed, sign_pk = S.new_signing_key()
    chains: list[bytes] = []
    for seq in range(1, 21):
        stored = seal_batch(
            seed,
            store.keys,
            EventBatch(store.keys.locator, LOG, "d" * 32, seq, chains[-1] if chains else None, seq, (version(seq),)),
        )
        store.backend.put(store.log_name(LOG, seq), stored)
        chains.append(chain_hash(stored))
    return store, [user_sk], LogOwner("desk", dev_pk, sign_pk, True), chains


def version(seq: int) -> Version:
    return Version(f"f{seq}", "file", seq, 0o644, seq, seq, "d" * 32, content=bytes([seq]) * 32, id=bytes([seq]) * 32)


def audit(log, cursor, anchor, budget=8):  # type: ignore[no-untyped-def]
    store, secrets, owner, _ = log
    return audit_log(store, secrets, owner, LOG, cursor, anchor, list(range(1, 21)), budget)


def test_a_clean_log_is_walked_down_in_steps_and_the_walk_restarts(log) -> None:  # type: ignore[no-untyped-def]
    store, secrets, owner, chains = log
    assert list(read_log(store, secrets, owner, LOG, (0, None), list(range(1, 21))))[-1].chain == chains[-1]
    cursor = (20, chains[19])
    anchor = audit(log, cursor, (0, None))
    assert anchor == (12, chains[11])  # batches 20..13 verified
    anchor = audit(log, cursor, anchor)
    assert anchor == (4, chains[3])
    assert audit(log, cursor, anchor) == (0, None)  # reached batch 1: next time from the cursor
    assert audit(log, cursor, (0, None), budget=20) == (0, None)  # a short log: whole at every call
    assert audit(log, (0, None), (0, None)) == (0, None)  # nothing read yet: nothing to audit


def test_a_swap_far_below_the_cursor_is_found_by_a_later_walk(log) -> None:  # type: ignore[no-untyped-def]
    store, _, _, chains = log
    root = store.backend.root  # type: ignore[attr-defined]
    one, two = root / store.log_name(LOG, 1), root / store.log_name(LOG, 2)
    a, b = one.read_bytes(), two.read_bytes()
    one.write_bytes(b)
    two.write_bytes(a)
    cursor = (20, chains[19])
    anchor = audit(log, cursor, (0, None))
    anchor = audit(log, cursor, anchor)
    with pytest.raises(IntegrityError, match="batch 2 changed since it was read"):
        audit(log, cursor, anchor)
    with pytest.raises(IntegrityError, match="batch 2 changed"):
        audit(log, cursor, (0, None), budget=20)


def test_a_rewritten_anchor_is_found(log) -> None:  # type: ignore[no-untyped-def]
    store, _, _, chains = log
    root = store.backend.root  # type: ignore[attr-defined]
    (root / store.log_name(LOG, 12)).write_bytes((root / store.log_name(LOG, 11)).read_bytes())
    with pytest.raises(IntegrityError, match="batch 12 changed"):
        audit(log, (20, chains[19]), (12, chains[11]))


def test_a_signed_batch_swapped_for_another_devices_is_found(log) -> None:  # type: ignore[no-untyped-def]
    """Below the cursor a signed batch must still verify under its owner's key."""
    store, secrets, owner, chains = log
    wrong = LogOwner("desk", owner.public, S.new_signing_key()[1], True)
    with pytest.raises(IntegrityError, match="signature does not verify"):
        audit_log(store, secrets, wrong, LOG, (20, chains[19]), (0, None), list(range(1, 21)))


def test_the_walk_decodes_no_version(log, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Only each batch's head is read: the versions were checked when the batch was read (0.9 s of a
    no-change push of 100,000 files went into decoding them again)."""
    store, _, _, chains = log

    def refuse(_doc: object) -> None:
        raise AssertionError("a version was decoded")

    monkeypatch.setattr("fog.format.batch.Version.from_json", refuse)
    assert audit(log, (20, chains[19]), (0, None), budget=20) == (0, None)
