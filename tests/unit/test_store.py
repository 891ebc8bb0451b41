"""Encrypted, verified objects and SyncConfig versions on a remote (fog.store)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fog.backends.local import LocalBackend
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import AlreadyExists, IntegrityError, RemoteError
from fog.format import objects as O
from fog.format.manifest import build_tree
from fog.format.syncconfig import CONFIG_VERSION, SyncConfig
from fog.store import MARKER, MARKER_NAME, MARKER_SIGNED, PresenceCache, PutStats, Remote, ShareStore

MASTER = bytes(range(16))


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    b = LocalBackend.from_url(str(tmp_path / "remote"), create=True)
    monkeypatch.setattr(b, "sync", lambda **_: None)  # syncfs is slow on a busy disk; durability is not tested here
    return b


@pytest.fixture
def store(backend: LocalBackend) -> ShareStore:
    return ShareStore(backend, K.ShareKeys.generate())


def stored_path(store: ShareStore, backend: LocalBackend, object_id: bytes) -> Path:
    return backend.root / store.object_name(object_id)


# -- marker ------------------------------------------------------------------------------


def test_marker(backend: LocalBackend) -> None:
    remote = Remote(backend)
    with pytest.raises(RemoteError, match="not a fog store"):
        remote.require_marker()
    remote.initialize()
    assert backend.get(MARKER_NAME) == MARKER_SIGNED == b"fog-store 4\n"  # a new store: format 4 at once
    assert remote.marker_version == 4
    remote.initialize()  # idempotent
    remote.require_marker()
    backend.put(MARKER_NAME, b"fog-store 3\n")  # a pruned store (FORMAT.md section 14): read as it is
    remote.require_marker()
    assert remote.marker_version == 3
    remote.allow_packs()
    remote.allow_prune()
    assert backend.get(MARKER_NAME) == b"fog-store 3\n"  # never moved back
    remote.allow_signed()  # before the first signed batch or prune record
    assert backend.get(MARKER_NAME) == b"fog-store 4\n" and remote.marker_version == 4
    for allow in (remote.allow_packs, remote.allow_prune, remote.allow_signed):
        allow()
        assert backend.get(MARKER_NAME) == b"fog-store 4\n"
    backend.put(MARKER_NAME, b"fog-store 5\n")
    with pytest.raises(RemoteError, match="unknown fog-store marker"):
        remote.initialize()


@pytest.mark.parametrize("start", [1, 2])
def test_an_older_store_goes_to_format_4_before_a_signed_record(backend: LocalBackend, start: int) -> None:
    backend.put(MARKER_NAME, f"fog-store {start}\n".encode())
    remote = Remote(backend)
    remote.require_marker()
    remote.allow_signed()
    assert backend.get(MARKER_NAME) == b"fog-store 4\n"
    remote.require_marker()
    assert remote.marker_version == 4


def test_format_1_marker_is_read_and_upgraded_before_packs(backend: LocalBackend) -> None:
    backend.put(MARKER_NAME, b"fog-store 1\n")
    remote = Remote(backend)
    remote.require_marker()
    assert remote.marker_version == 1
    remote.allow_packs()
    assert backend.get(MARKER_NAME) == MARKER and remote.marker_version == 2


# -- objects -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"tiny", b"x" * 5000, os.urandom(3000), os.urandom(O.MAX_BLOCK)])
def test_put_get(store: ShareStore, backend: LocalBackend, data: bytes) -> None:
    object_id = store.put(data)
    assert object_id == S.mac(store.keys.mac_key, data)
    h = object_id.hex()
    assert store.object_name(object_id) == f"shares/{store.keys.locator}/objects/{h[:2]}/{h}"
    assert backend.exists(store.object_name(object_id))
    assert store.get(object_id) == data
    assert list(store.list_objects()) == [object_id]


def test_stored_bytes_hide_the_content(store: ShareStore, backend: LocalBackend) -> None:
    data = b"secret words " * 100
    stored = backend.get(store.object_name(store.put(data)))
    assert stored[0] == O.OBJECT_VERSION and b"secret" not in stored
    assert len(stored) < len(data)  # compressed before encryption


def test_presence_cache_skips_known_objects(backend: LocalBackend) -> None:
    keys = K.ShareKeys.generate()
    presence = PresenceCache()
    store = ShareStore(backend, keys, presence)
    stats = PutStats()
    a = store.put(b"block", stats)
    store.put(b"block", stats)
    assert (stats.blocks, stats.uploaded, stats.plain_bytes) == (2, 1, 10)
    assert presence.known(a) and presence.new == {a}
    assert ShareStore(backend, keys, PresenceCache({a})).put(b"block", stats) == a and stats.uploaded == 1


def test_every_bit_flip_is_detected(store: ShareStore, backend: LocalBackend) -> None:
    for data in (b"a small block", b"compressible " * 20):
        object_id = store.put(data)
        path = stored_path(store, backend, object_id)
        good = path.read_bytes()
        for bit in range(len(good) * 8):
            bad = bytearray(good)
            bad[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(IntegrityError, match=object_id.hex()[:16]):
                store.decode(object_id, bytes(bad), "file.txt")  # what get() runs on the fetched bytes
            if bit % 97 == 0:  # and a sample through the remote itself
                path.write_bytes(bad)
                with pytest.raises(IntegrityError, match=object_id.hex()[:16]):
                    store.get(object_id, "file.txt")
        path.write_bytes(good)
        assert store.get(object_id) == data


def test_truncated_or_extended_object_is_detected(store: ShareStore, backend: LocalBackend) -> None:
    object_id = store.put(b"some block")
    path = stored_path(store, backend, object_id)
    good = path.read_bytes()
    for bad in (b"", good[:1], good[:-1], good + b"\x00"):
        path.write_bytes(bad)
        with pytest.raises(IntegrityError):
            store.get(object_id)


def test_object_under_another_name_is_detected(store: ShareStore, backend: LocalBackend) -> None:
    a, b = store.put(b"block A"), store.put(b"block B")
    stored_path(store, backend, b).write_bytes(stored_path(store, backend, a).read_bytes())
    with pytest.raises(IntegrityError, match=b.hex()[:16]):
        store.get(b)


def test_object_from_another_share_is_detected(backend: LocalBackend) -> None:
    one, two = ShareStore(backend, K.ShareKeys.generate()), ShareStore(backend, K.ShareKeys.generate())
    object_id = one.put(b"block")
    backend.put(two.object_name(object_id), backend.get(one.object_name(object_id)))
    with pytest.raises(IntegrityError):
        two.get(object_id)


def test_missing_object_is_an_integrity_error_naming_it(store: ShareStore) -> None:
    object_id = S.mac(store.keys.mac_key, b"never stored")
    with pytest.raises(IntegrityError, match=f"object {object_id.hex()[:16]} of docs/a.txt is missing"):
        store.get(object_id, "docs/a.txt")


def test_authenticated_but_invalid_objects_are_refused(store: ShareStore, backend: LocalBackend) -> None:
    """Objects only a data-key holder could make: wrong content, bad codec, bad zstd, too big."""
    key = store.keys.data_key
    object_id = S.mac(store.keys.mac_key, b"expected")
    cases = {
        "does not match its name": O.frame(b"something else"),
        "codec": b"\x07expected",
        "zstd": b"\x01not a zstd frame",
        "larger": b"\x00" + bytes(O.MAX_BLOCK + 1),
    }
    for message, plain in cases.items():
        backend.put(store.object_name(object_id), bytes([O.OBJECT_VERSION]) + S.seal_block(key, object_id, plain))
        with pytest.raises(IntegrityError, match=message):
            store.get(object_id)
    backend.put(store.object_name(object_id), b"\x02" + S.seal_block(key, object_id, O.frame(b"expected")))
    with pytest.raises(IntegrityError, match="format version"):
        store.get(object_id)


def test_file_tree_round_trip(store: ShareStore) -> None:
    blocks = [os.urandom(100 + i) for i in range(300)]
    root, depth = build_tree([(store.put(b), len(b)) for b in blocks], store.put)
    assert depth >= 1
    assert list(store.read_blocks(root, depth, "big.bin")) == blocks
    seen: list[int] = []
    store.walk(root, depth, "big.bin", lambda _id, d: seen.append(d) is None)
    assert seen.count(0) == len(blocks) and seen[0] == depth
    with pytest.raises(IntegrityError, match="wrong tree level"):
        list(store.read_blocks(root, depth + 1, "big.bin"))
    assert list(store.read_blocks(None, 0, "empty")) == []


def test_a_data_block_is_not_accepted_as_a_manifest(store: ShareStore) -> None:
    block = store.put(b"plain data, not a node")
    with pytest.raises(IntegrityError, match="manifest"):
        list(store.read_blocks(block, 1, "f"))


# -- logs ------------------------------------------------------------------------------------------


def test_logs_are_create_only_and_listed(store: ShareStore) -> None:
    store.publish_batch("ab" * 16, 1, b"one")
    store.publish_batch("ab" * 16, 2, b"two")
    store.publish_batch("cd" * 16, 1, b"other")
    store.publish_batch("ab" * 16, 2, b"two")  # a retried publish whose first attempt landed
    with pytest.raises(IntegrityError, match="already exists"):
        store.publish_batch("ab" * 16, 2, b"rewrite")
    with pytest.raises(AlreadyExists):
        store.backend.put_new(store.log_name("ab" * 16, 2), b"rewrite")
    assert store.get_batch("ab" * 16, 2) == b"two"
    assert store.list_logs() == {"ab" * 16: [1, 2], "cd" * 16: [1]}
    assert store.log_name("ab" * 16, 2) == f"shares/{store.keys.locator}/log/{'ab' * 16}/0000000002"


# -- SyncConfig versions ---------------------------------------------------------------------------


@dataclass
class Signer:
    """A device as put_config needs it: master key, id, Box and signing keys."""

    master_key: bytes = MASTER
    device_public: bytes = field(default_factory=lambda: S.new_keypair()[1])
    sign_secret: bytes = b""
    sign_public: bytes = b""
    device_id: str = ""

    def __post_init__(self) -> None:
        self.sign_secret, self.sign_public = S.new_signing_key()
        self.device_id = K.device_id(self.device_public, self.sign_public)


SIGNER = Signer()


def config(name: str, updated: int, signer: Signer = SIGNER) -> SyncConfig:
    user = {"public": "aa" * 32, "secret": "bb" * 32}
    entry = {"name": name, "updated": updated, "revoked": 0, "public": signer.device_public.hex()}
    return SyncConfig(user, {signer.device_id: {**entry, "sign": signer.sign_public.hex()}})


def test_config_versions_are_side_by_side_and_merged(backend: LocalBackend) -> None:
    remote = Remote(backend)
    assert remote.load_config(MASTER) == (None, [])
    first = remote.put_config(SIGNER, config("old", 1))
    second = remote.put_config(SIGNER, config("new", 2))
    locator, _, hmac_key = K.config_keys(MASTER)
    assert first != second and first.startswith(f"config/{locator}/")
    assert first.rsplit("/", 1)[1] == S.mac(hmac_key, backend.get(first)).hex()
    merged, names = remote.load_config(MASTER)
    assert names == sorted([first, second])
    assert merged is not None and merged.devices[SIGNER.device_id]["name"] == "new"
    assert remote.load_config(bytes(16)) == (None, [])  # another user's locator


def test_config_versions_already_merged_are_not_fetched(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = Remote(backend)
    first = remote.put_config(SIGNER, config("old", 1))
    second = remote.put_config(SIGNER, config("new", 2))
    base, names = remote.load_config(MASTER)
    assert base is not None
    third = remote.put_config(SIGNER, config("newest", 3))
    fetched: list[str] = []
    real = backend.get_range  # a whole version is read as one bounded range
    monkeypatch.setattr(backend, "get_range", lambda name, off, n: fetched.append(name) or real(name, off, n))
    merged, listed = remote.load_config(MASTER, known=set(names), base=base)
    assert fetched == [third]  # only the version the base does not hold
    assert listed == sorted([first, second, third])
    assert merged == remote.load_config(MASTER)[0]  # the same as merging every version again
    assert merged is not None and merged.devices[SIGNER.device_id]["name"] == "newest"
    with pytest.raises(ValueError):
        remote.load_config(MASTER, known={first})  # known versions need the base holding them


def test_config_versions_are_read_a_few_at_once(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each read is a round trip on a node, and a clone reads every version three times: they are read in
    parallel (up to the backend's read_concurrency), then checked and merged in their order as before."""
    remote = Remote(backend)
    names = [remote.put_config(SIGNER, config(f"v{i}", i)) for i in range(6)]
    real = backend.get_range
    lock, busy, most = threading.Lock(), [0], [0]
    both = threading.Barrier(2, timeout=5)

    def slow(name: str, off: int, n: int) -> bytes:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        try:
            both.wait()  # returns once two reads are under way at once (BrokenBarrierError: never)
        except threading.BrokenBarrierError:
            pass
        with lock:
            busy[0] -= 1
        return real(name, off, n)

    monkeypatch.setattr(backend, "get_range", slow)
    monkeypatch.setattr(backend, "read_concurrency", 2, raising=False)
    merged, listed = remote.load_config(MASTER)
    assert most[0] == 2 and listed == sorted(names)
    assert merged is not None and merged.devices[SIGNER.device_id]["name"] == "v5"


def test_altered_or_renamed_config_is_refused(backend: LocalBackend) -> None:
    remote = Remote(backend)
    name = remote.put_config(SIGNER, config("x", 1))
    good = backend.get(name)
    backend.put(name, good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(IntegrityError, match="HMAC"):
        remote.load_config(MASTER)
    backend.put(name, good)
    backend.put(name.rsplit("/", 1)[0] + "/" + "00" * 32, good)
    with pytest.raises(IntegrityError, match="HMAC"):
        remote.load_config(MASTER)


def test_config_sealed_with_the_right_keys_but_bad_content_is_refused(backend: LocalBackend) -> None:
    locator, box_key, hmac_key = K.config_keys(MASTER)
    for plain, message in ((b"not gzip", "gzip"), (SyncConfig({"public": "a"}).to_bytes(), "keypair")):
        stored = bytes([CONFIG_VERSION]) + S.seal_secret(box_key, plain)
        name = f"config/{locator}/{S.mac(hmac_key, stored).hex()}"
        backend.put(name, stored)
        with pytest.raises(IntegrityError, match=message):
            Remote(backend).load_config(MASTER)
        backend.delete(name)


def test_whole_object_reads_are_bounded(backend: LocalBackend) -> None:
    """A remote storing more under a name than fog ever writes there is refused without reading it all."""
    from fog.errors import EXIT_INTEGRITY, UnreadableObject
    from fog.store import read_bounded

    backend.put("big", b"x" * 100)
    assert read_bounded(backend, "big", 100, "big") == b"x" * 100
    with pytest.raises(UnreadableObject) as info:
        read_bounded(backend, "big", 50, "big")
    assert info.value.exit_code == EXIT_INTEGRITY and "larger than 50 bytes" in str(info.value)


def test_a_huge_object_in_a_local_directory_is_refused_unread(backend: LocalBackend, tmp_path: Path) -> None:
    """A sparse 2 GiB file under a batch's name: refused from its size, without reading (or allocating) it."""
    from fog.errors import UnreadableObject
    from fog.store import read_bounded

    backend.put("huge", b"x")
    path = next(p for p in tmp_path.rglob("huge") if p.is_file())
    os.truncate(path, 2 << 30)
    reads: list[int] = []
    get_range = backend.get_range
    backend.get_range = lambda name, offset, length: reads.append(length) or get_range(name, offset, length)  # type: ignore[method-assign]
    with pytest.raises(UnreadableObject, match="larger than 1000 bytes"):
        read_bounded(backend, "huge", 1000, "a batch")
    assert reads == []
