"""fog.idtable and what uses it (presence, the pack catalog's places), fog.pathlist: the same answers as a set,
a dict and a list, with no Python object per id or path (issue 20: a clone's memory flat in its files)."""

from __future__ import annotations

import hashlib
import json
import pickle
import tracemalloc
from collections.abc import Callable

from fog.format import pack as P
from fog.idtable import IdTable
from fog.pathlist import PathList
from fog.store import PackCatalog, PresenceCache
from fog.sync.pull import PullResult


def oid(i: int) -> bytes:
    return hashlib.sha256(b"%d" % i).digest()


def index_of(ids: list[bytes], pack: bytes = b"p" * 32) -> P.PackIndex:
    return P.PackIndex(pack, b"".join(P._ENTRY.pack(x, 100 + 10 * i, 10) for i, x in enumerate(ids)))


def grown_by(make: Callable[[], object]) -> int:
    """Bytes Python allocated by `make` and still held by what it returned."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = make()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before


def test_id_table_finds_every_reference_and_forgets_removed_ones() -> None:
    table = IdTable()
    buf = b"".join(oid(i) for i in range(1000))
    n = table.add_buffer(buf)
    table.insert_run(n, 32)
    again = table.add_buffer(oid(5) + oid(2000))  # the same id referenced twice, and a new one
    table.insert(again << 32)
    table.insert(again << 32 | 32)
    assert len(table) == 1002
    assert all(table.first(oid(i)) >= 0 for i in range(1000)) and table.first(oid(2000)) >= 0
    assert table.first(oid(3000)) == -1 and table.refs(oid(3000)) == []
    assert sorted(table.refs(oid(5))) == [n << 32 | 5 * 32, again << 32]
    assert table.id_at(table.first(oid(7))) == oid(7)
    assert sorted(table.remove(oid(5))) == [n << 32 | 5 * 32, again << 32]
    assert table.first(oid(5)) == -1 and len(table) == 1000
    table.insert(n << 32 | 5 * 32)  # back, in a removed one's slot
    assert table.first(oid(5)) == n << 32 | 5 * 32
    assert sorted(table.id_at(r) for r in table.live()) == sorted([*(oid(i) for i in range(1000)), oid(2000)])


def test_presence_answers_as_a_set_does() -> None:
    loaded = [oid(0) + oid(1), oid(2)]  # the share database's runs (and a single id, as formats 1 and 2 keep them)
    presence = PresenceCache(load=lambda: loaded)
    assert presence.known(oid(1)) and presence.known(oid(2)) and not presence.known(oid(3))
    assert presence.new == set()
    assert presence.claim(oid(3)) and not presence.claim(oid(3)) and not presence.claim(oid(0))
    presence.add(oid(4))
    index = index_of([oid(4), oid(5), oid(6)])
    assert presence.missing(index)
    presence.add_index(index)
    assert not presence.missing(index)
    assert presence.new == {oid(3), oid(4), oid(5), oid(6)}
    presence.discard([oid(5), oid(0)])
    assert not presence.known(oid(5)) and not presence.known(oid(0)) and presence.known(oid(6))
    taken = presence.take_new()
    assert sorted(taken[i : i + 32] for i in range(0, len(taken), 32)) == sorted([oid(3), oid(4), oid(6)])
    assert presence.new == set() and presence.take_new() == b""
    presence.add(oid(5))  # discarded, then stored again
    assert presence.known(oid(5)) and presence.new == {oid(5)}
    assert PresenceCache({oid(9)}).known(oid(9))


def test_presence_holds_no_python_object_per_id() -> None:
    """A pack header read (a clone reads every one) counted its objects present one bytes object each, in two
    sets: ~140 B an object. Now a reference into the index the catalog holds anyway."""
    n = 20_000
    index = index_of([oid(i) for i in range(n)])

    def fill() -> PresenceCache:
        presence = PresenceCache(load=set)
        presence.known(oid(0))  # (loaded)
        for object_id in index.ids():
            if not presence.known(object_id):
                presence.add(object_id)  # (scan_packs now refers to the index instead: add_index)
        return presence

    assert grown_by(fill) < 80 * n


def test_places_hold_no_python_object_per_object() -> None:
    n = 20_000
    ids = [oid(i) for i in range(n)]
    indexes = [index_of(ids[: n // 2], b"a" * 32), index_of(ids[n // 2 :] + ids[:10], b"b" * 32)]
    catalog = PackCatalog()
    for index in indexes:
        catalog.add(index)
    assert catalog.locations(ids[3]) == [(b"a" * 32, 130, 10), (b"b" * 32, 100 + 10 * (n // 2 + 3), 10)]
    assert catalog.locations(ids[n - 1]) == [(b"b" * 32, 100 + 10 * (n // 2 - 1), 10)]
    assert catalog.locations(oid(n)) == []

    def fill() -> PackCatalog:
        fresh = PackCatalog()
        for index in indexes:
            fresh.add(index)
        fresh.locations(ids[0])  # the places are built on the first read
        return fresh

    assert grown_by(fill) < 40 * n


def test_path_list_reads_as_the_list_it_was_given() -> None:
    paths = ["b", "a/x", "a/x", "a/xy", "a/é", "bad/\udcff\udcfe", "\ud800", ""] + [f"d/{i:03}" for i in range(40)]
    got = PathList(paths)
    assert got == paths and list(got) == paths and len(got) == len(paths) and got != paths[:-1]
    assert [got[i] for i in range(len(paths))] == paths and got[-1] == paths[-1] and got[3:7] == paths[3:7]
    assert "a/xy" in got and "zz" not in got and repr(got) == repr(paths)
    assert pickle.loads(pickle.dumps(got)) == paths
    got += ["more"]
    got.extend(("and", "more"))
    assert got[-3:] == ["more", "and", "more"]


def test_path_list_add_new_keeps_order_and_drops_repeats() -> None:
    got = PathList(["x", "y"])
    got.add_new(["y", "z", "x", "w", "z"])
    assert got == ["x", "y", "z", "w"]


def test_a_pulls_paths_cost_a_few_bytes_each() -> None:
    """A clone's `updated` held every path as a str to the end (~85 B each), and merging it into the whole
    pull's report made a set of them too."""
    n = 20_000

    def fill() -> PullResult:
        one = PullResult("r")
        for i in range(n):
            one.updated.append(f"dir{i // 100:04}/file-{i:06}.txt")  # (made here, as a pull decodes each path)
        total = PullResult("r")
        total.absorb(one)
        return total

    assert grown_by(fill) < 30 * n


def test_json_lists_a_path_list_as_a_list(capsys) -> None:  # type: ignore[no-untyped-def]
    from fog.cli.text import as_doc, emit_json

    r = PullResult("r")
    for i in range(5000):
        r.updated.append(f"d/é{i}")
    emit_json(as_doc(r))
    out = capsys.readouterr().out
    plain = {**as_doc(r), "updated": list(r.updated), "deleted": []}
    assert out == json.dumps(plain, indent=2, ensure_ascii=False) + "\n"
