"""RepoDB.forget_versions and the forget outbox (fog/repo/db.py): what forgetting does to the local history."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from fog.format.version import Version
from fog.repo.db import RepoDB
from fog.repo.history import history_ids

DEVICE = "ab" * 16


def ver(path: str, t: int, kind: str = "file", parent: Version | None = None) -> Version:
    """A version of `path` at time `t` (its id: any 32 bytes unique to it)."""
    size, mode = (0, 0) if kind == "deleted" else (t, 0o644)
    v = Version(path, kind, size, mode, 0, t, DEVICE, parent=parent.id if parent else None)
    return v.with_id(hashlib.sha256(f"{path}@{t}:{kind}".encode()).digest())


@pytest.fixture
def db(tmp_path: Path) -> Iterator[RepoDB]:
    d = RepoDB(tmp_path / "db")
    yield d
    d.close()


def chain(db: RepoDB, path: str, n: int, *, deleted: bool = False) -> list[Version]:
    """n versions of `path` (times 1..n), each the head in turn; the last one a deletion when asked."""
    out: list[Version] = []
    with db.write() as txn:
        for t in range(1, n + 1):
            kind = "deleted" if deleted and t == n else "file"
            v = ver(path, t, kind, out[-1] if out else None)
            assert db.add_version(txn, v)
            out.append(v)
    return out


def ids(vs: list[Version]) -> list[bytes]:
    return [v.id for v in vs]


def history(db: RepoDB, path: str) -> list[bytes]:
    return [v.id for v in reversed(db.path_history(path))]  # oldest first


def test_forgetting_old_versions_keeps_the_rest_and_the_head(db: RepoDB) -> None:
    vs = chain(db, "a.txt", 5)
    with db.write() as txn:
        done = db.forget_versions(txn, ids(vs[:3]))
    assert ids(done.removed) == ids(vs[:3]) and done.kept == [] and done.new == ids(vs[:3])
    assert history(db, "a.txt") == ids(vs[3:])
    assert db.head("a.txt") == vs[4]
    assert all(db.version(v.id) is None for v in vs[:3])
    assert sorted(v.id for v in db.recent()) == sorted(ids(vs[3:]))  # gone from the timeline too
    with db.read() as txn:
        assert len(history_ids(txn, db.db["history"], db.db["versions"], db.db["timeline"], "a.txt")) == 2
        assert all(db.is_forgotten(v.id, txn) for v in vs[:3])
        assert not db.is_forgotten(vs[3].id, txn)


def test_a_forgotten_version_is_never_recorded_again(db: RepoDB) -> None:
    vs = chain(db, "a.txt", 3)
    late = ver("b.txt", 9)  # forgotten before this device ever saw it
    with db.write() as txn:
        db.forget_versions(txn, [vs[0].id, late.id])
    with db.write() as txn:
        assert db.add_version(txn, vs[0]) is False
        assert db.add_version(txn, late) is False
        db.add_unknown_versions(txn, [vs[0], late, ver("c.txt", 1)])
    assert history(db, "a.txt") == ids(vs[1:])
    assert db.path_history("b.txt") == [] and db.head("b.txt") is None
    assert db.head("a.txt") == vs[2]  # add_unknown_versions made no forgotten version a head
    assert db.head("c.txt") is not None


def test_forgetting_again_reports_nothing_new(db: RepoDB) -> None:
    vs = chain(db, "a.txt", 3)
    with db.write() as txn:
        db.forget_versions(txn, [vs[0].id])
    with db.write() as txn:
        done = db.forget_versions(txn, [vs[0].id, vs[0].id, vs[1].id])
    assert done.new == [vs[1].id] and ids(done.removed) == [vs[1].id]


def test_a_deleted_path_whose_whole_history_is_forgotten_has_no_head(db: RepoDB) -> None:
    vs = chain(db, "gone.txt", 3, deleted=True)
    with db.write() as txn:
        done = db.forget_versions(txn, ids(vs))
    assert ids(done.removed) == ids(vs) and done.kept == []
    assert db.head("gone.txt") is None and db.path_history("gone.txt") == []
    assert "gone.txt" not in db.heads()


def test_a_forgotten_deletion_head_leaves_the_newest_remaining_version_as_head(db: RepoDB) -> None:
    vs = chain(db, "x.txt", 4, deleted=True)
    with db.write() as txn:
        db.forget_versions(txn, [vs[3].id, vs[1].id])
    assert db.head("x.txt") == vs[2]
    assert history(db, "x.txt") == [vs[0].id, vs[2].id]


def test_this_devices_live_head_is_kept_until_a_new_head_replaces_it(db: RepoDB) -> None:
    vs = chain(db, "a.txt", 3)
    with db.write() as txn:
        done = db.forget_versions(txn, ids(vs))  # another device saw all three superseded
    assert ids(done.removed) == ids(vs[:2]) and ids(done.kept) == [vs[2].id]
    assert history(db, "a.txt") == [vs[2].id] and db.head("a.txt") == vs[2]
    assert db.forgotten_heads() == [vs[2].id]
    with db.read() as txn:
        assert db.is_forgotten(vs[2].id, txn)  # a copy arriving later is still not recorded twice
    with db.write() as txn:  # forgetting it again changes nothing
        again = db.forget_versions(txn, [vs[2].id])
    assert again.kept == [] and again.removed == [] and db.head("a.txt") == vs[2]
    newer = ver("a.txt", 10, parent=vs[2])
    with db.write() as txn:  # a pull (or push) makes a newer version the head: the kept one goes
        db.add_unknown_versions(txn, [newer])
    assert history(db, "a.txt") == [newer.id] and db.head("a.txt") == newer
    assert db.forgotten_heads() == []
    with db.write() as txn:
        assert db.add_version(txn, vs[2]) is False


def test_a_kept_head_goes_when_add_version_or_set_heads_replace_it(db: RepoDB) -> None:
    a = chain(db, "a.txt", 2)
    b = chain(db, "b.txt", 2)
    with db.write() as txn:
        db.forget_versions(txn, [a[1].id, b[1].id])
    assert db.forgotten_heads() == [a[1].id, b[1].id]
    with db.write() as txn:
        db.add_version(txn, ver("a.txt", 5))
    assert db.forgotten_heads() == [b[1].id] and db.version(a[1].id) is None
    assert db.version(b[1].id) is not None
    later = ver("b.txt", 6)
    with db.write() as txn:
        db.add_unknown_versions(txn, [later], make_head=False)
        assert db.forgotten_heads(txn) == [b[1].id]  # recorded, not yet the head
        db.set_heads(txn, [later])
    assert db.forgotten_heads() == [] and history(db, "b.txt") == [b[0].id, later.id]


def test_forgetting_leaves_every_outbox_of_versions(db: RepoDB) -> None:
    vs = chain(db, "a.txt", 4)
    with db.write() as txn:
        db.add_pending(txn, ["one", "two"], ids(vs))
        db.add_pending(txn, ["three"], ids(vs[2:]))
        db.forget_versions(txn, ids(vs[:3]))
    assert db.pending("one") == db.pending("two") == [vs[3].id]
    assert db.pending("three") == [vs[3].id]


def test_forget_outbox_is_per_remote_in_order_and_cleared(db: RepoDB) -> None:
    first, second = [bytes([i]) * 32 for i in (9, 3)]
    with db.write() as txn:
        db.add_pending_forgets(txn, ["one", "two"], [first])
        db.add_pending_forgets(txn, ["one"], [second])
        db.add_pending(txn, ["one"], [bytes(32)])
    assert db.pending_forgets("one") == [first, second]  # queued order, not id order
    assert db.pending_forgets("two") == [first] and db.pending_forgets("three") == []
    assert db.pending("one") == [bytes(32)]  # a queue of its own
    with db.write() as txn:
        db.clear_pending_forgets(txn, "one", [first])
    assert db.pending_forgets("one") == [second] and db.pending_forgets("two") == [first]
    db.forget_remote("two")
    assert db.pending_forgets("two") == [] and db.pending_forgets("one") == [second]


# -- what a pull applies of a path whose versions are forgotten (fog.sync.pull._forgotten_head) ----------


def test_a_pull_never_applies_a_forgotten_version_but_a_deletion_of_a_live_file() -> None:
    from fog.sync.merge import Plan
    from fog.sync.pull import _forgotten_head

    live = ver("p", 1)
    newer, deletion, loser = ver("p", 2, parent=live), ver("p", 3, "deleted", parent=live), ver("p", 4)
    gone = {newer.id, deletion.id, loser.id}.__contains__

    def applies(plan: Plan, head: Version | None) -> bool:
        return not _forgotten_head(plan, head, gone)

    assert not applies(Plan("p", newer, write=newer), None)  # a path new here: never written
    assert not applies(Plan("p", deletion, write=deletion), None)
    assert not applies(Plan("p", newer, write=newer), live)  # the file here stays as it is
    assert applies(Plan("p", deletion, write=deletion), live)  # deleted everywhere: deleted here too
    assert not applies(Plan("p", deletion, write=deletion), ver("p", 0, "deleted"))
    kept = Plan("p", live, conflicts=[loser, newer])
    assert applies(kept, live) and kept.conflicts == []  # no conflict copy of a forgotten version
    fresh = ver("p", 9)
    plan = Plan("p", fresh, write=fresh, conflicts=[loser])
    assert applies(plan, live) and plan.conflicts == []


def test_histories_walks_every_path_once_with_its_head(db: RepoDB) -> None:
    long = "d/" + "x" * 500  # keyed by a hash (pathkey): its versions are still one group
    a = chain(db, "a", 2)
    ab = chain(db, "a/b", 1)  # a longer path that starts with "a": a group of its own
    ln = chain(db, long, 3, deleted=True)
    with db.read() as txn:
        got = {path: (sorted(v.id for v in vs), head) for path, vs, head in db.histories(txn)}
    assert got == {
        "a": (sorted(ids(a)), a[-1].id),
        "a/b": (ids(ab), ab[-1].id),
        long: (sorted(ids(ln)), ln[-1].id),
    }


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_all_versions_chunked_yields_what_all_versions_does(db: RepoDB, size: int) -> None:
    """prune's walk over every version reads it a chunk at a time, dropping the map in between."""
    for n in range(5):
        chain(db, f"p{n}", n + 1)
    assert sorted(v.id for v in db.all_versions_chunked(size)) == sorted(v.id for v in db.all_versions())
    assert len(list(db.all_versions_chunked(size))) == 15
