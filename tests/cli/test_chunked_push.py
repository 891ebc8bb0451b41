"""A push records and publishes large changes in chunks (fog.sync.push.CHUNK_FILES)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fogcli import Share, run_fog

from fog.backends.local import LocalBackend
from fog.errors import RemoteError
from fog.repo.db import RepoDB
from fog.sync import push as push_mod

OLD = 1_600_000_000 * 10**9


def test_chunks_are_published_as_batches_and_clone_whole(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(push_mod, "CHUNK_FILES", 3)
    remaps = []
    real_remap = RepoDB.remap
    monkeypatch.setattr(RepoDB, "remap", lambda self: (remaps.append(1), real_remap(self))[1])
    for i in range(10):
        share.write(f"d/f{i}.txt", f"file {i}\n")
    share.write("gone.txt", "to delete\n")
    for p in [*share.root.rglob("*.txt"), share.root / "d"]:
        os.utime(p, ns=(OLD, OLD))  # not racy: the next push reads only what changes
    doc = share.push()
    assert len(doc["added"]) == 12  # 10 files, the directory, gone.txt
    assert len(share.log_files()) == 4  # ceil(12 / 3) batches
    assert len(remaps) == 4  # reopened between chunks (see RepoDB.remap), and once before indexing the packs
    (share.root / "gone.txt").unlink()
    share.write("d/f0.txt", "changed\n")
    doc = share.push()
    assert (doc["modified"], doc["deleted"]) == (["d/f0.txt"], ["gone.txt"])
    assert len(share.log_files()) == 5  # one chunk: the change and the deletion together
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    run_fog(["clone", share.remote, tmp_path / "two", "--master-key-file", share.key_file], tmp_path)
    got = {p.relative_to(tmp_path / "two").as_posix(): p.read_text() for p in (tmp_path / "two").rglob("*.txt")}
    assert got == {f"d/f{i}.txt": ("changed\n" if i == 0 else f"file {i}\n") for i in range(10)}


def test_a_push_stopped_part_way_keeps_its_published_chunks(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push_mod, "CHUNK_FILES", 2)
    for i in range(6):
        share.write(f"f{i}.txt", f"{i}\n")
    real = LocalBackend.sync
    calls = {"n": 0}

    def failing(self: LocalBackend, *, every: bool = False) -> None:
        calls["n"] += 1
        if calls["n"] == 4:  # chunk 1: pack sync + batch syncs (3); chunk 2 dies at its pack sync
            raise RemoteError("disk gone", transient=False)
        real(self, every=every)

    monkeypatch.setattr(LocalBackend, "sync", failing)
    r = share.fog("push", expect=1)
    assert "disk gone" in r.one_line_error()
    recorded = {e["path"] for e in share.fog("log", "--json").json()}
    assert recorded == {"f0.txt", "f1.txt"}  # the first chunk landed; nothing of the second is recorded
    monkeypatch.setattr(LocalBackend, "sync", real)
    doc = share.push()
    assert sorted(doc["added"]) == [f"f{i}.txt" for i in range(2, 6)]
    assert {e["path"] for e in share.fog("log", "--json").json()} == {f"f{i}.txt" for i in range(6)}
    share.fog("check", "--read-data")


def _places(share: Share) -> tuple[list[bytes], dict[bytes, list[tuple[bytes, int, int]]]]:
    """The packs marked unindexed, and where `locs` puts each object of every recorded pack."""
    db = RepoDB(share.root / ".fog" / "db")
    try:
        unindexed = [index.pack for index in db.unindexed_packs()]
        places = {}
        for pack in db.known_packs():
            index = db.pack_index(pack)
            assert index is not None
            for oid, _, _ in index:
                places[oid] = db.locations(oid)
        return unindexed, places
    finally:
        db.close()


def test_a_push_writes_its_packs_places_once_at_its_end(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push_mod, "CHUNK_FILES", 2)
    flags: list[bool] = []
    real_add = RepoDB.add_pack
    monkeypatch.setattr(
        RepoDB,
        "add_pack",
        lambda self, txn, index, *, locs=True: (flags.append(locs), real_add(self, txn, index, locs=locs))[1],
    )
    for i in range(6):
        share.write(f"f{i}.txt", f"{i}\n")
    share.push()
    assert flags and not any(flags)  # no chunk wrote places into `locs`...
    unindexed, places = _places(share)
    assert unindexed == [] and len(places) == 6 and all(places.values())  # ...the end of the push wrote them all

    # a push stopped before that end leaves its packs marked; reads look in their indexes meanwhile
    real_index = RepoDB.index_packs
    monkeypatch.setattr(RepoDB, "index_packs", lambda self, txn: 0)
    share.write("late.txt", "written last\n")
    share.push()
    unindexed, places = _places(share)
    assert len(unindexed) == 1 and [oid for oid, where in places.items() if not where] != []
    assert share.fog("cat", "late.txt").out == "written last\n"
    share.fog("check", "--read-data")
    monkeypatch.setattr(RepoDB, "index_packs", real_index)
    share.push()  # nothing changed: it only indexes what the stopped push left
    unindexed, places = _places(share)
    assert unindexed == [] and len(places) == 7 and all(places.values())
