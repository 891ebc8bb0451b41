"""Packs in the store: building, shipping, finding objects again (fog.store)."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fog.backends.local import LocalBackend
from fog.crypto import keys as K
from fog.errors import IntegrityError
from fog.format import pack as P
from fog.format.manifest import build_tree
from fog.store import PackCatalog, Packer, ShareStore


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    b = LocalBackend.from_url(str(tmp_path / "remote"), create=True)
    monkeypatch.setattr(b, "sync", lambda: None)
    return b


@pytest.fixture
def keys() -> K.ShareKeys:
    return K.ShareKeys.generate()


def _packing_store(backend: LocalBackend, keys: K.ShareKeys, target: int = P.TARGET_BYTES) -> tuple[ShareStore, Packer]:
    store = ShareStore(backend, keys)
    return store, Packer(keys.pack_key, store.put_pack, target=target)


def _pack_objects(store: ShareStore, packer: Packer, blocks: list[bytes]) -> list[bytes]:
    ids = []
    for data in blocks:
        object_id = store.object_id(data)
        packer.add(object_id, store.encode(object_id, data))
        ids.append(object_id)
    packer.flush()
    return ids


def test_packs_close_at_the_target_and_flush_ships_the_rest(backend: LocalBackend, keys: K.ShareKeys) -> None:
    store, packer = _packing_store(backend, keys, target=100_000)
    blocks = [os.urandom(30_000) for _ in range(10)]
    ids = _pack_objects(store, packer, blocks)
    packs = list(store.list_packs())
    # 4 objects of ~30 kB pass 100 kB: 4 + 4 + the 2 left by flush
    assert sorted(len(store.read_index(p)) for p in packs) == [2, 4, 4]
    for object_id, data in zip(ids, blocks, strict=True):
        assert store.get(object_id) == data
    assert store.presence.known(ids[0]) and store.presence.known(ids[-1])
    packer.flush()  # nothing gathered: no empty pack
    assert len(list(store.list_packs())) == 3


def test_pack_name_is_the_hash_of_its_bytes(backend: LocalBackend, keys: K.ShareKeys) -> None:
    store, packer = _packing_store(backend, keys)
    _pack_objects(store, packer, [b"one", b"two"])
    (pack_id,) = store.list_packs()
    assert store.get_pack(pack_id)
    path = backend.root / store.pack_name(pack_id)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="do not match its name"):
        store.get_pack(pack_id)


def test_many_threads_pack_every_object_exactly_once(backend: LocalBackend, keys: K.ShareKeys) -> None:
    shipped: list[P.PackIndex] = []
    in_flight = 0
    most = 0
    lock = threading.Lock()
    store = ShareStore(backend, keys)

    def ship(data: bytes, index: P.PackIndex) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        store.put_pack(data, index)
        shipped.append(index)
        with lock:
            in_flight -= 1

    packer = Packer(keys.pack_key, ship, target=50_000, in_flight=2)
    blocks = [os.urandom(1000 + i) for i in range(600)]

    def add(data: bytes) -> bytes:
        object_id = store.object_id(data)
        packer.add(object_id, store.encode(object_id, data))
        return object_id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(add, blocks))
    packer.flush()
    packed = [i for index in shipped for i in index.ids()]
    assert sorted(packed) == sorted(ids)  # each once, none lost
    assert most <= 2
    fresh = ShareStore(backend, keys)  # another device: learns the packs from their headers
    for object_id, data in zip(ids[::37], blocks[::37], strict=True):
        assert fresh.get(object_id) == data


def test_another_device_finds_objects_by_reading_pack_headers(backend: LocalBackend, keys: K.ShareKeys) -> None:
    store, packer = _packing_store(backend, keys)
    ids = _pack_objects(store, packer, [b"alpha" * 100, b"beta" * 100])
    other = ShareStore(backend, keys)
    assert other.catalog.locations(ids[0]) == []
    assert other.get(ids[1]) == b"beta" * 100
    assert other.catalog.locations(ids[0])  # the scan learned the whole pack
    assert other.presence.known(ids[0])  # and counts its objects as present: dedupe
    assert other.scan_packs() == 0  # once per process


def test_an_object_packed_twice_is_read_from_the_copy_this_remote_has(
    tmp_path: Path, backend: LocalBackend, keys: K.ShareKeys
) -> None:
    catalog = PackCatalog()
    elsewhere = ShareStore(LocalBackend.from_url(str(tmp_path / "elsewhere"), create=True), keys, catalog=catalog)
    here = ShareStore(backend, keys, catalog=catalog)
    data = b"packed by two devices" * 50
    object_id = here.object_id(data)
    # the first place known is a pack only the other remote has
    p1 = Packer(keys.pack_key, elsewhere.put_pack)
    p1.add(object_id, elsewhere.encode(object_id, data))
    p1.flush()
    p2 = Packer(keys.pack_key, here.put_pack)
    p2.add(object_id, here.encode(object_id, data))
    p2.add(here.object_id(b"other"), here.encode(here.object_id(b"other"), b"other"))  # a different pack
    p2.flush()
    assert len(catalog.locations(object_id)) == 2
    assert here.get(object_id) == data


def test_a_corrupt_copy_is_skipped_for_an_intact_one(tmp_path: Path, backend: LocalBackend, keys: K.ShareKeys) -> None:
    store = ShareStore(backend, keys)
    data = b"two copies" * 100
    object_id = store.object_id(data)
    for extra in (b"a", b"b"):  # two packs holding the object, in different layouts
        p = Packer(keys.pack_key, store.put_pack)
        p.add(store.object_id(extra), store.encode(store.object_id(extra), extra))
        p.add(object_id, store.encode(object_id, data))
        p.flush()
    (first, first_offset, _), (second, offset, length) = store.catalog.locations(object_id)
    path = backend.root / store.pack_name(first)
    raw = bytearray(path.read_bytes())
    raw[first_offset + 20] ^= 1
    path.write_bytes(bytes(raw))
    assert store.get(object_id) == data
    path2 = backend.root / store.pack_name(second)
    raw2 = bytearray(path2.read_bytes())
    raw2[offset + length // 2] ^= 1
    path2.write_bytes(bytes(raw2))
    with pytest.raises(IntegrityError, match="authentication failed"):
        store.get(object_id)


def test_nearby_groups_dense_runs_of_one_pack(backend: LocalBackend, keys: K.ShareKeys) -> None:
    store, packer = _packing_store(backend, keys, target=1 << 30)
    blocks = [os.urandom(10_000) for _ in range(20)]
    ids = _pack_objects(store, packer, blocks)
    unknown = b"\x07" * 32
    order = [ids[5], unknown, ids[0], ids[19], b"", ids[6]]
    groups = store.nearby(order)
    assert sorted(i for g in groups for i in g) == list(range(len(order)))
    assert [1] in groups and [4] in groups  # no place known: alone
    packed = [g for g in groups if g not in ([1], [4])]
    assert packed == [[2, 0, 5, 3]]  # one pack, in pack order
    split = [g for g in store.nearby(order, gap=30_000) if g not in ([1], [4])]
    assert split == [[2], [0, 5], [3]]  # a gap of four 10 kB objects (> 30 kB) starts a new run
    small = store.nearby([ids[0], ids[1], ids[2]], span=25_000)
    assert small == [[0, 1], [2]]  # a group never spans more than `span` bytes


def test_preload_reads_a_group_once_and_get_still_verifies(
    backend: LocalBackend, keys: K.ShareKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, packer = _packing_store(backend, keys)
    blocks = [os.urandom(5_000) for _ in range(10)]
    ids = _pack_objects(store, packer, blocks)
    calls: list[tuple[str, int, int]] = []
    real = backend.get_range

    def counting(name: str, offset: int, length: int) -> bytes:
        calls.append((name, offset, length))
        return real(name, offset, length)

    monkeypatch.setattr(backend, "get_range", counting)
    with store.preload(ids[2:8]):
        assert [store.get(i) for i in ids[2:8]] == blocks[2:8]
        assert len(calls) == 1  # one read for six objects
        assert store.get(ids[0]) == blocks[0]  # outside the group: read on its own
        assert len(calls) == 2
    assert store.get(ids[3]) == blocks[3]  # after the block: no stale preloaded bytes
    assert len(calls) == 3
    # preloaded bytes are verified like any others
    (pack_id,) = store.list_packs()
    path = backend.root / store.pack_name(pack_id)
    _, offset, length = store.catalog.locations(ids[4])[0]
    raw = bytearray(path.read_bytes())
    raw[offset + length // 2] ^= 1
    path.write_bytes(bytes(raw))
    with store.preload(ids[2:8]), pytest.raises(IntegrityError):
        store.get(ids[4])


def test_runs_split_ids_in_their_order_into_dense_runs(backend: LocalBackend, keys: K.ShareKeys) -> None:
    store, packer = _packing_store(backend, keys, target=150_000)
    blocks = [os.urandom(10_000) for _ in range(20)]
    ids = _pack_objects(store, packer, blocks)  # two packs: 15 objects, then 5
    unknown = b"\x09" * 32
    assert store.runs(ids) == [ids[:15], ids[15:]]  # a new pack starts a new run
    assert store.runs([*ids[:3], unknown, *ids[3:6]]) == [ids[:3], [unknown], ids[3:6]]
    # neighbours that swapped places in the pack (a push computes a few blocks at once): one run
    assert store.runs([ids[1], ids[0], ids[3], ids[2]]) == [[ids[1], ids[0], ids[3], ids[2]]]
    assert store.runs([ids[0], ids[5], ids[6]], gap=30_000) == [[ids[0]], [ids[5], ids[6]]]
    assert store.runs([ids[6], ids[0]], gap=30_000) == [[ids[6]], [ids[0]]]  # far back: a new run
    assert store.runs(ids[:6], span=25_000) == [ids[0:2], ids[2:4], ids[4:6]]  # never more than `span`
    assert [i for run in store.runs(ids[::-1]) for i in run] == ids[::-1]  # every id, in order


def test_get_run_reads_once_and_verifies_every_object(
    backend: LocalBackend, keys: K.ShareKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, packer = _packing_store(backend, keys)
    blocks = [os.urandom(5_000) for _ in range(8)]
    ids = _pack_objects(store, packer, blocks)
    calls: list[int] = []
    real = backend.get_range
    monkeypatch.setattr(backend, "get_range", lambda n, o, ln: calls.append(ln) or real(n, o, ln))
    (run,) = store.runs(ids)
    assert store.get_run(run) == blocks
    assert len(calls) == 1
    (pack_id,) = store.list_packs()
    path = backend.root / store.pack_name(pack_id)
    _, offset, length = store.catalog.locations(ids[6])[0]
    raw = bytearray(path.read_bytes())
    raw[offset + length // 2] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="authentication failed"):
        store.get_run(run)


def test_a_damaged_preloaded_copy_falls_back_to_an_intact_one(backend: LocalBackend, keys: K.ShareKeys) -> None:
    store = ShareStore(backend, keys)
    data = [os.urandom(3_000) for _ in range(3)]
    ids = [store.object_id(d) for d in data]
    for _ in range(2):  # the same three objects in two packs
        p = Packer(keys.pack_key, store.put_pack)
        for object_id, d in zip(ids, data, strict=True):
            p.add(object_id, store.encode(object_id, d))
        p.flush()
    first = store.catalog.locations(ids[1])[0]
    path = backend.root / store.pack_name(first[0])
    raw = bytearray(path.read_bytes())
    raw[first[1] + first[2] // 2] ^= 1
    path.write_bytes(bytes(raw))
    (run,) = [r for r in store.runs(ids) if len(r) == 3]
    assert store.get_run(run) == data  # the damaged copy of ids[1] is skipped for the other pack's


def _node_tree(store: ShareStore, packer: Packer, leaves: int) -> tuple[list[bytes], bytes, int]:
    """A file's manifest tree over `leaves` made-up block ids, its nodes packed: (leaf ids, root, depth)."""

    def put_node(data: bytes) -> bytes:
        node_id = store.object_id(data)
        packer.add(node_id, store.encode(node_id, data))
        return node_id

    ids = [hashlib.sha256(b"leaf %d" % i).digest() for i in range(leaves)]  # the same tree each run
    root, depth = build_tree([(i, 65536) for i in ids], put_node)
    packer.flush()
    assert root is not None
    return ids, root, depth


def test_walk_fetches_a_levels_nodes_by_runs_in_order(
    backend: LocalBackend, keys: K.ShareKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round trip per manifest node made a remote with latency (a node) wait before a large file's first
    block: the children of a node are fetched by runs of their pack, and visited in the same order as before."""
    store, packer = _packing_store(backend, keys)
    leaves, root, depth = _node_tree(store, packer, 30000)
    assert depth >= 3  # (node ids are keyed: the upper levels differ from run to run)
    calls: list[int] = []
    real = backend.get_range
    monkeypatch.setattr(backend, "get_range", lambda n, o, ln: calls.append(ln) or real(n, o, ln))
    seen: list[tuple[bytes, int]] = []
    store.walk(root, depth, "f", lambda i, d: seen.append((i, d)) or True)
    nodes = [(i, d) for i, d in seen if d > 0]
    assert [i for i, d in seen if d == 0] == leaves  # every block, in file order
    assert seen[0] == (root, depth) and len(set(nodes)) == len(nodes) > 20
    parents = [i for i, d in nodes if d >= 2]  # nodes whose children are nodes
    # the root, then a read per parent (not per node); a parent whose children straddle a pack boundary
    # takes one more (node ids are keyed: where the boundaries fall changes from run to run)
    assert len(calls) <= 2 * (1 + len(parents)) and 1 + len(parents) < len(nodes) / 4
    at = {i: n for n, (i, _) in enumerate(seen)}
    for i, d in nodes:  # each node before its children
        assert all(at[c] > at[i] for c, _ in store.node(i, d - 1, "f").entries)
    # a visit that prunes a node: nothing below it is visited, or fetched
    pruned = [i for i, d in nodes if d == depth - 1][0]
    calls.clear()
    kept: list[bytes] = []
    store.walk(root, depth, "f", lambda i, d: i != pruned and (kept.append(i) or True))
    below = {c for c, _ in store.node(pruned, depth - 2, "f").entries}
    assert pruned not in kept and not below & set(kept) and len(kept) < len(seen) - len(below)


def test_a_walk_inside_a_preload_keeps_the_preloaded_objects(
    backend: LocalBackend, keys: K.ShareKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's single-block files are preloaded; a large file of the group walks its tree (a preload of
    its own) in between: the group's objects must still come from the first read."""
    store, packer = _packing_store(backend, keys)
    blocks = [os.urandom(5_000) for _ in range(6)]
    ids = _pack_objects(store, packer, blocks)
    _, root, depth = _node_tree(store, packer, 30000)
    calls: list[int] = []
    real = backend.get_range
    monkeypatch.setattr(backend, "get_range", lambda n, o, ln: calls.append(ln) or real(n, o, ln))
    with store.preload(ids):
        assert store.get(ids[0]) == blocks[0]
        store.walk(root, depth, "f", lambda i, d: True)
        before = len(calls)
        assert [store.get(i) for i in ids[1:]] == blocks[1:]
        assert len(calls) == before  # no read of its own


def test_packer_makes_no_pack_past_its_limit() -> None:
    """With a limit (a node's --max-object), a pack is shipped before an object would take it past;
    an object larger than the limit alone still goes, in a pack of its own."""

    shipped: list[bytes] = []
    limit = 10_000
    packer = Packer(bytes(32), lambda data, index: shipped.append(data), limit=limit)
    sizes = [3000, 3000, 3000, 900, 20, 12_000, 5000, 100, 64] + [37] * 300
    for i, n in enumerate(sizes):
        packer.add(i.to_bytes(32, "big"), bytes(n))
    packer.flush()
    assert max(len(d) for d in shipped if len(d) < 12_000) <= limit
    assert [len(d) for d in shipped if len(d) > limit] == [P.header_size(1) + 12_000]
    assert sum(len(d) - P.header_size(0) for d in shipped) == sum(sizes) + len(sizes) * P.WIRE_BYTES


def test_packs_sealed_before_a_key_rotation_add_no_presence(backend: LocalBackend, keys: K.ShareKeys) -> None:
    """An old epoch's pack may hold objects no version names (a push killed before a rotation): after the
    rotation they must be sealed again, not named (docs/FORMAT.md, section 15); they are still read."""
    store, packer = _packing_store(backend, keys)
    ids = _pack_objects(store, packer, [b"alpha" * 100, b"beta" * 100])
    rotated = keys.rotated()
    learnt = ShareStore(backend, rotated)  # a device that reads the header after the rotation
    assert learnt.scan_packs(confirm=True) == 1
    assert not learnt.presence.known(ids[0]) and learnt.get(ids[1]) == b"beta" * 100
    assert learnt.catalog.epoch(next(iter(learnt.catalog._packs))) == 0
    catalog = PackCatalog()  # the catalog knew the pack before, its epoch not noted: the header is read again
    for index in store.catalog._packs.values():
        catalog.add(index)
    known = ShareStore(backend, rotated, catalog=catalog)
    known.scan_packs(confirm=True)
    assert not known.presence.known(ids[0]) and not known.presence.known(ids[1])
    same = ShareStore(backend, keys)  # in its own epoch a pack counts as before
    same.scan_packs(confirm=True)
    assert same.presence.known(ids[0]) and same.presence.known(ids[1])
    new_packer = Packer(rotated.pack_key, known.put_pack)  # sealed again: counted, in the new epoch
    _pack_objects(known, new_packer, [b"alpha" * 100])
    assert known.presence.known(ids[0])


def test_a_header_read_under_another_packs_name_does_not_hide_objects_on_an_intact_remote(
    tmp_path: Path, backend: LocalBackend, keys: K.ShareKeys
) -> None:
    """Review 6 remotes R4: a remote serving pack B's bytes under pack A's name teaches B's index as A's
    (a header cannot be checked against its name); A's objects are then in no known place. A read from
    an intact remote reads its headers again, and the copy whose bytes match the name wins; the bad
    copy's header never replaces it."""
    intact = ShareStore(LocalBackend.from_url(str(tmp_path / "intact"), create=True), keys)
    packs: list[P.PackIndex] = []

    def ship(data: bytes, index: P.PackIndex) -> None:  # the same pack to both remotes
        packs.append(index)
        backend.put(intact.pack_name(index.pack), data)
        intact.put_pack(data, index)

    for blocks in ([b"alpha" * 100], [b"pad", b"beta" * 100]):
        _pack_objects(intact, Packer(keys.pack_key, ship), blocks)
    a, b = packs
    damaged_a = backend.root / intact.pack_name(a.pack)
    damaged_a.write_bytes((backend.root / intact.pack_name(b.pack)).read_bytes())
    catalog = PackCatalog()
    damaged = ShareStore(backend, keys, catalog=catalog)
    alpha = intact.object_id(b"alpha" * 100)
    with pytest.raises(IntegrityError, match="missing from remote"):
        damaged.get(alpha)
    assert catalog.index(a.pack) != a  # learnt from the damaged copy: b's entries under a's name
    assert ShareStore(intact.backend, keys, catalog=catalog).get(alpha) == b"alpha" * 100
    assert catalog.index(a.pack) == a
    with pytest.raises(IntegrityError):
        ShareStore(backend, keys, catalog=catalog).get(alpha)  # reads the damaged copy's header again
    assert catalog.index(a.pack) == a
    beta = intact.object_id(b"beta" * 100)
    assert ShareStore(backend, keys, catalog=catalog).get(beta) == b"beta" * 100
