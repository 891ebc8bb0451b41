"""Known-answer tests: the code must reproduce tests/vectors/*.json exactly.

A failure here means the on-disk format changed. If that was intended, bump
the format's version byte, keep a fixture of the old format, update
docs/FORMAT.md and regenerate with tests/vectors/generate.py.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import nacl.secret
import nacl.utils
import pytest
import zstandard
from pyfastcdc import FastCDC

from fog.backends.local import LocalBackend
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import IntegrityError
from fog.format import batch as B
from fog.format import intent as I
from fog.format import objects as O
from fog.format import pack as P
from fog.format.manifest import ManifestNode, build_tree
from fog.format.syncconfig import SyncConfig
from fog.format.version import VERSION_ID_PREFIX, Version
from fog.store import PutStats, Remote, ShareStore, open_batch, open_box_batch, verify_batch
from fog.sync.content import FileReader

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@cache
def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


def h(s: str) -> bytes:
    return bytes.fromhex(s)


def share_keys(doc: dict[str, Any]) -> K.ShareKeys:
    s = doc["share"]
    return K.ShareKeys(h(s["share_id"]), h(s["data_key"]), h(s["mac_key"]), s["chunk_seed"])


def pseudo_random(label: bytes, size: int) -> bytes:
    out = b"".join(hashlib.sha256(label + i.to_bytes(4, "big")).digest() for i in range((size + 31) // 32))
    return out[:size]


# -- keys -------------------------------------------------------------------------------


def test_labels_are_the_documented_ones() -> None:
    labels = load("keys.json")["labels"]
    for name, value in labels.items():
        assert getattr(K, name) == value.encode()
    assert sorted(n for n in dir(K) if n.startswith("LABEL_")) == sorted(labels)


@pytest.mark.parametrize("v", load("keys.json")["master_key_text"], ids=lambda v: v["key"][:8])
def test_master_key_text(v: dict[str, str]) -> None:
    key = h(v["key"])
    assert K.master_key_to_text(key) == v["text"]
    assert K.master_key_from_text(v["text"]) == key
    assert K.derive(K.LABEL_MASTER_CHECK, key)[:4].hex() == v["check"]


def test_config_keys() -> None:
    v = load("keys.json")["config_keys"]
    assert K.config_keys(h(v["master_key"])) == (v["locator"], h(v["secretbox_key"]), h(v["hmac_key"]))


def test_derive() -> None:
    for v in load("keys.json")["derive"]:
        assert K.derive(v["label"].encode(), h(v["secret"])).hex() == v["output"]


def test_node_join_keypair() -> None:
    for v in load("keys.json")["node_join"]:
        secret, public = K.node_join_keypair(h(v["master_key"]), h(v["node_public"]))
        assert (secret.hex(), public.hex()) == (v["secret"], v["public"])
        assert secret == K.derive(K.LABEL_NODE_JOIN, h(v["master_key"]) + h(v["node_public"]))


def test_curve25519_public_keys() -> None:
    for v in load("keys.json")["curve25519"]:
        assert S.public_of(h(v["secret"])).hex() == v["public"]


def test_device_id_and_log_name() -> None:
    doc = load("keys.json")
    for v in doc["device_id"]:
        assert K.device_id(h(v["public"])) == v["device_id"]
    for v in doc["device_log_name"]:
        assert K.device_log_name(h(v["share_id"]), h(v["public"])) == v["log"]


# -- objects and chunking -------------------------------------------------------------------


@pytest.mark.parametrize("v", load("objects.json")["objects"], ids=lambda v: v["name"].split()[0])
def test_object_encoding(v: dict[str, Any], tmp_path: Path) -> None:
    doc = load("objects.json")
    store = ShareStore(LocalBackend(tmp_path), share_keys(doc))
    data, object_id, stored = h(v["plaintext"]), h(v["id"]), h(v["stored"])
    assert store.object_id(data) == object_id
    assert store.object_name(object_id) == v["remote_name"]
    # Decoding is the format contract, whatever compressor wrote the object.
    assert store.decode(object_id, stored, "vector") == data
    assert stored[0] == O.OBJECT_VERSION
    assert S.open_block(store.keys.data_key, object_id, stored[1:], "vector") == h(v["framed"])
    assert h(v["framed"])[0] == v["codec"]
    if v["codec"] == O.CODEC_RAW or zstandard.ZSTD_VERSION == tuple(doc["zstd_version"]):
        assert O.frame(data) == h(v["framed"])
        assert store.encode(object_id, data) == stored
    else:  # another libzstd may compress differently; the framing must still hold
        assert O.frame(data)[0] == O.CODEC_ZSTD


def test_codecs_covered() -> None:
    assert {v["codec"] for v in load("objects.json")["objects"]} == {O.CODEC_RAW, O.CODEC_ZSTD}


def test_chunking_and_file_root(tmp_path: Path) -> None:
    doc = load("chunking.json")
    keys = share_keys(doc)
    p = doc["fastcdc"]
    assert (p["avg_size_param"], p["min_size"], p["max_size"]) == (O.FASTCDC_AVG_PARAM, O.MIN_BLOCK, O.MAX_BLOCK)
    data = pseudo_random(doc["input"]["label"].encode(), doc["input"]["size"])
    assert hashlib.sha256(data).hexdigest() == doc["input"]["sha256"]
    chunker = FastCDC(O.FASTCDC_AVG_PARAM, min_size=O.MIN_BLOCK, max_size=O.MAX_BLOCK, seed=keys.chunk_seed)
    assert [c.length for c in chunker.cut_buf(data)] == doc["chunk_lengths"]
    # The same boundaries, ids and tree through the code push uses.
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    content = FileReader(keys, None).read(path, os.stat(path), PutStats())
    assert (content.root, content.depth, content.size) == (h(doc["root"]), doc["depth"], len(data))
    entries = [(h(i), n) for i, n in zip(doc["block_ids"], doc["chunk_lengths"], strict=True)]
    nodes: list[str] = []
    root, depth = build_tree(entries, lambda b: nodes.append(b.hex()) or S.mac(keys.mac_key, b))
    assert (root, depth, nodes) == (h(doc["root"]), doc["depth"], doc["manifest_nodes"])


# -- packs ---------------------------------------------------------------------------------------


def pack_parts() -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """(packs.json, pack key, pack id, pack bytes)."""
    doc = load("packs.json")
    return doc, h(doc["pack_key"]["key"]), h(doc["id"]), h(doc["pack"])


def pack_head(pack_key: bytes, entries: bytes) -> bytes:
    sealed = S.seal_secret(pack_key, entries)
    return P.MAGIC + bytes([P.PACK_VERSION]) + len(sealed).to_bytes(4, "big") + sealed


def test_pack_key() -> None:
    doc, pack_key, _, _ = pack_parts()
    keys = share_keys(doc)
    assert doc["pack_key"]["label"] == K.LABEL_PACK_INDEX.decode()
    assert doc["pack_key"]["secret"] == "data_key"
    assert keys.pack_key == pack_key == K.derive(K.LABEL_PACK_INDEX, keys.data_key)
    assert pack_key not in (keys.data_key, keys.mac_key)


def test_pack_header_fields() -> None:
    doc, pack_key, pack_id, data = pack_parts()
    head = doc["header"]
    assert len(data) == doc["size"]
    assert (data[:4], data[4]) == (head["magic"].encode(), head["version"]) == (P.MAGIC, P.PACK_VERSION)
    assert int.from_bytes(data[5:9], "big") == P.sealed_length(data) == head["sealed_length"]
    assert head["header_length"] == P.HEAD_BYTES + head["sealed_length"] == P.header_size(len(doc["entries"]))
    assert data[P.HEAD_BYTES : P.HEAD_BYTES + S.NONCE_BYTES] == h(head["nonce"])


def test_pack_index_opens_to_recorded_entries() -> None:
    doc, pack_key, pack_id, data = pack_parts()
    head = doc["header"]
    expected = [(h(e["id"]), e["offset"], e["length"]) for e in doc["entries"]]
    for prefix in (data, data[: head["header_length"]]):  # the whole pack, or just its header
        index = P.open_index(pack_key, pack_id, prefix, "vector")
        assert index.pack == pack_id
        assert P.wire_entries(index) == h(head["entries_plaintext"])
        assert list(index) == expected
        assert len(index) == len(expected)
        assert list(index.ids()) == [i for i, _, _ in expected]
    # The sealed index is SecretBox(pack key, recorded nonce) of the entries, nothing else.
    sealed = data[P.HEAD_BYTES : head["header_length"]]
    box = nacl.secret.SecretBox(pack_key)
    assert bytes(box.encrypt(h(head["entries_plaintext"]), h(head["nonce"]))) == sealed


@pytest.mark.parametrize("e", load("packs.json")["entries"], ids=lambda e: e["object"].split()[0])
def test_pack_entry_decodes_to_object(e: dict[str, Any], tmp_path: Path) -> None:
    doc, _, _, data = pack_parts()
    objects = {o["id"]: o for o in load("objects.json")["objects"]}
    obj = objects[e["id"]]
    assert obj["name"] == e["object"]
    stored = data[e["offset"] : e["offset"] + e["length"]]
    assert stored == h(obj["stored"])  # byte for byte a format-1 stored object
    store = ShareStore(LocalBackend(tmp_path), share_keys(doc))
    assert store.decode(h(e["id"]), stored, "vector") == h(obj["plaintext"])
    assert O.unframe(S.open_block(store.keys.data_key, h(e["id"]), stored[1:], "vector")) == h(obj["plaintext"])


def test_pack_covers_every_object() -> None:
    doc, _, _, data = pack_parts()
    entries = doc["entries"]
    assert [e["id"] for e in entries] == [o["id"] for o in load("objects.json")["objects"]]
    assert entries[0]["offset"] == doc["header"]["header_length"]
    for a, b in zip(entries, entries[1:], strict=False):
        assert b["offset"] == a["offset"] + a["length"]
    assert entries[-1]["offset"] + entries[-1]["length"] == len(data)


def test_pack_id_and_remote_name(tmp_path: Path) -> None:
    doc, _, pack_id, data = pack_parts()
    assert hashlib.sha256(data).digest() == pack_id
    store = ShareStore(LocalBackend(tmp_path), share_keys(doc))
    assert store.pack_name(pack_id) == doc["remote_name"]
    assert doc["remote_name"] == f"shares/{doc['share']['share_id']}/packs/{doc['id'][:2]}/{doc['id']}"


def test_pack_build_reproduces_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    doc, pack_key, pack_id, data = pack_parts()
    objects = {o["id"]: o for o in load("objects.json")["objects"]}
    nonce = h(doc["header"]["nonce"])
    monkeypatch.setattr(nacl.utils, "random", lambda size=32: nonce[:size])
    built, index = P.build(pack_key, [(h(e["id"]), h(objects[e["id"]]["stored"])) for e in doc["entries"]])
    assert built == data
    assert index.pack == pack_id and P.wire_entries(index) == h(doc["header"]["entries_plaintext"])
    assert list(index) == [(h(e["id"]), e["offset"], e["length"]) for e in doc["entries"]]


def test_pack_read_through_store(tmp_path: Path) -> None:
    """A pack another device wrote is found by a reader that knows nothing of it."""
    doc, _, pack_id, data = pack_parts()
    backend = LocalBackend(tmp_path)
    backend.put(doc["remote_name"], data)
    store = ShareStore(backend, share_keys(doc))
    assert list(store.list_packs()) == [pack_id]
    assert P.wire_entries(store.read_index(pack_id)) == h(doc["header"]["entries_plaintext"])
    assert store.get_pack(pack_id) == data
    for o in load("objects.json")["objects"]:
        assert store.get(h(o["id"]), "vector") == h(o["plaintext"])


def test_pack_wrong_magic() -> None:
    _, pack_key, pack_id, data = pack_parts()
    bad = b"FOGQ" + data[4:]
    with pytest.raises(ValueError, match="not a fog pack"):
        P.sealed_length(bad)
    with pytest.raises(IntegrityError, match="not a fog pack"):
        P.open_index(pack_key, pack_id, bad, "vector")


@pytest.mark.parametrize("version", [0x00, 0x02, 0xFF])
def test_pack_unknown_version(version: int) -> None:
    _, pack_key, pack_id, data = pack_parts()
    bad = data[:4] + bytes([version]) + data[5:]
    with pytest.raises(IntegrityError, match="unknown pack format version"):
        P.open_index(pack_key, pack_id, bad, "vector")


@pytest.mark.parametrize(
    "length",
    [
        0,
        P.SEAL_OVERHEAD - 1,  # shorter than nonce and tag
        P.SEAL_OVERHEAD + 1,  # not a whole number of entries
        P.SEAL_OVERHEAD + 3 * P.WIRE_BYTES - 1,
        P.SEAL_OVERHEAD + (P.MAX_INDEX // P.WIRE_BYTES + 1) * P.WIRE_BYTES,  # past the bound
        0xFFFFFFFF,
    ],
)
def test_pack_impossible_index_length(length: int) -> None:
    _, pack_key, pack_id, data = pack_parts()
    bad = data[:5] + length.to_bytes(4, "big") + data[9:]
    with pytest.raises(IntegrityError, match="index length is impossible"):
        P.open_index(pack_key, pack_id, bad, "vector")


def test_pack_index_length_changed_fails_authentication() -> None:
    """A possible but wrong length cuts the sealed index at the wrong place."""
    doc, pack_key, pack_id, data = pack_parts()
    n = doc["header"]["sealed_length"] - P.WIRE_BYTES
    bad = data[:5] + n.to_bytes(4, "big") + data[9:]
    with pytest.raises(IntegrityError):
        P.open_index(pack_key, pack_id, bad, "vector")


def test_pack_index_with_an_empty_object_is_refused() -> None:
    """Offsets are implied by the lengths; the one impossible length is zero."""
    doc, pack_key, pack_id, data = pack_parts()
    ids = [h(e["id"]) for e in doc["entries"]]
    lengths = [doc["entries"][0]["length"], 0, doc["entries"][2]["length"]]
    entries = b"".join(i + n.to_bytes(4, "big") for i, n in zip(ids, lengths, strict=True))
    head = pack_head(pack_key, entries)
    with pytest.raises(IntegrityError, match="empty object"):
        P.open_index(pack_key, pack_id, head + data[len(head) :], "vector")


def test_pack_hand_built_index_opens() -> None:
    """The negative case above differs from this one only in one length."""
    doc, pack_key, pack_id, data = pack_parts()
    head = pack_head(pack_key, h(doc["header"]["entries_plaintext"]))
    assert len(head) == doc["header"]["header_length"]
    index = P.open_index(pack_key, pack_id, head, "vector")
    assert P.wire_entries(index) == h(doc["header"]["entries_plaintext"])


def test_pack_empty_index_opens() -> None:
    _, pack_key, pack_id, _ = pack_parts()
    assert len(P.open_index(pack_key, pack_id, pack_head(pack_key, b""), "vector")) == 0


@pytest.mark.parametrize("where", ["nonce", "tag", "ciphertext"])
def test_pack_flipped_bit_in_sealed_index(where: str) -> None:
    doc, pack_key, pack_id, data = pack_parts()
    pos = P.HEAD_BYTES + {"nonce": 3, "tag": S.NONCE_BYTES + 5, "ciphertext": P.SEAL_OVERHEAD + 40}[where]
    assert pos < doc["header"]["header_length"]
    bad = bytearray(data)
    bad[pos] ^= 0x10
    with pytest.raises(IntegrityError, match="vector"):
        P.open_index(pack_key, pack_id, bytes(bad), "vector")


def test_pack_index_needs_the_pack_key() -> None:
    doc, _, pack_id, data = pack_parts()
    keys = share_keys(doc)
    for key in (keys.data_key, keys.mac_key):
        with pytest.raises(IntegrityError):
            P.open_index(key, pack_id, data, "vector")


@pytest.mark.parametrize("cut", [0, 4, P.HEAD_BYTES - 1, P.HEAD_BYTES, P.HEAD_BYTES + 40, -1])
def test_pack_truncated_inside_header(cut: int) -> None:
    doc, pack_key, pack_id, data = pack_parts()
    end = doc["header"]["header_length"]
    with pytest.raises(IntegrityError):
        P.open_index(pack_key, pack_id, data[: cut if cut >= 0 else end + cut], "vector")


def test_pack_entry_read_as_another_object_fails(tmp_path: Path) -> None:
    """The index is a hint: bytes at one entry's place never pass as another object."""
    doc, _, _, data = pack_parts()
    store = ShareStore(LocalBackend(tmp_path), share_keys(doc))
    first, second = doc["entries"][:2]
    with pytest.raises(IntegrityError):
        store.decode(h(first["id"]), data[second["offset"] : second["offset"] + second["length"]], "vector")
    with pytest.raises(IntegrityError):
        store.decode(h(first["id"]), data[first["offset"] : first["offset"] + first["length"] - 1], "vector")


# -- manifests ---------------------------------------------------------------------------------


def test_manifest_nodes() -> None:
    doc = load("manifest.json")
    mac_key = share_keys(doc).mac_key
    for v in doc["nodes"]:
        node = ManifestNode(v["level"], tuple((h(i), n) for i, n in v["entries"]))
        assert node.to_bytes().hex() == v["bytes"]
        assert ManifestNode.from_bytes(h(v["bytes"])) == node
        assert S.mac(mac_key, h(v["bytes"])).hex() == v["id"]


def test_manifest_tree() -> None:
    doc = load("manifest.json")
    mac_key = share_keys(doc).mac_key
    t = doc["tree"]
    entries = [(S.mac(mac_key, b"fake block %d" % i), 65536) for i in range(t["count"])]
    nodes: list[str] = []
    root, depth = build_tree(entries, lambda b: nodes.append(b.hex()) or S.mac(mac_key, b))
    assert (root.hex() if root else None, depth, nodes) == (t["root"], t["depth"], t["nodes"])


# -- versions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("v", load("version.json")["versions"], ids=lambda v: v["id"][:8])
def test_version_record(v: dict[str, str]) -> None:
    doc = load("version.json")
    mac_key = share_keys(doc).mac_key
    assert h(doc["id_prefix"]) == VERSION_ID_PREFIX
    record = Version.from_bytes(v["record"].encode())
    assert os.fsencode(record.path).hex() == v["path_bytes"]
    assert record.canonical() == h(v["canonical_hex"]) == v["canonical"].encode()
    assert S.mac(mac_key, VERSION_ID_PREFIX + record.canonical()) == record.id == h(v["id"])
    assert record.to_bytes().decode() == v["record"]


def test_version_vectors_cover_path_b64() -> None:
    assert any("path_b64" in v["canonical"] for v in load("version.json")["versions"])


# -- event batches -------------------------------------------------------------------------------


def legacy(doc: dict[str, Any], stored: bytes, public: str = "device_public") -> B.EventBatch:
    return open_box_batch([h(doc["user_secret"])], h(doc[public]), stored, "vector")


def check_plaintext(doc: dict[str, Any], v: dict[str, Any], batch: B.EventBatch) -> None:
    plain = h(v["plaintext"])
    assert plain[:5] == b"FOGE\x01"
    assert B.EventBatch.from_bytes(plain) == batch
    assert zstandard.ZstdDecompressor().decompress(plain[5:]).decode() == v["json"]
    again = batch.to_bytes()
    assert zstandard.ZstdDecompressor().decompress(again[5:]).decode() == v["json"]
    if zstandard.ZSTD_VERSION == tuple(doc["zstd_version"]):
        assert again == plain
    s = doc["share"]
    assert v["name"] == f"shares/{s['share_id']}/log/{batch.log}/{B.seq_name(batch.seq)}"


@pytest.mark.parametrize("v", load("batch.json")["batches"], ids=lambda v: f"seq{v['seq']}")
def test_legacy_batch_opens_to_expected_plaintext(v: dict[str, Any]) -> None:
    doc = load("batch.json")
    stored = h(v["stored"])
    assert stored[0] == B.BATCH_VERSION_BOX == 0x01
    batch = legacy(doc, stored)
    assert batch.seq == v["seq"]
    assert B.chain_hash(stored).hex() == v["chain"]
    check_plaintext(doc, v, batch)
    with pytest.raises(IntegrityError):
        legacy(doc, stored, "other_device_public")


@pytest.mark.parametrize("v", load("batch.json")["signed"], ids=lambda v: f"seq{v['seq']}")
def test_signed_batch_known_answer(v: dict[str, Any]) -> None:
    doc = load("batch.json")
    keys = share_keys(doc)
    stored = h(v["stored"])
    assert stored[0] == B.BATCH_VERSION == 0x02 and stored[1:5] == v["epoch"].to_bytes(4, "big")
    assert keys.batch_key(v["epoch"]).hex() == doc["batch_key"]
    log = v["name"].split("/")[3]
    sealed = stored[69:]
    message = B.signed_message(keys.share_id, log, v["seq"], v["epoch"], sealed)
    assert message == h(v["signed_prefix"]) + sealed
    # Ed25519 is deterministic: the same seed signs the same message with the same 64 bytes
    assert S.signing_public_of(h(doc["sign_seed"])).hex() == doc["sign_public"]
    assert S.sign(h(doc["sign_seed"]), message) == stored[5:69]
    assert verify_batch(keys, log, v["seq"], h(doc["sign_public"]), stored, "vector") == v["epoch"]
    batch = open_batch(
        stored,
        "vector",
        keys=keys,
        log=log,
        seq=v["seq"],
        sign_public=h(doc["sign_public"]),
        device_public=h(doc["device_public"]),
        user_secrets=[h(doc["user_secret"])],
    )
    assert batch.seq == v["seq"]
    assert B.chain_hash(stored).hex() == v["chain"]
    check_plaintext(doc, v, batch)
    with pytest.raises(IntegrityError, match="signature does not verify"):
        verify_batch(keys, log, v["seq"], h(doc["other_sign_public"]), stored, "vector")


@pytest.mark.parametrize("which", ["batches", "signed"])
def test_batch_chain(which: str) -> None:
    doc = load("batch.json")
    first, second = doc[which]
    keys = share_keys(doc)

    def opened(v: dict[str, Any]) -> B.EventBatch:
        return open_batch(
            h(v["stored"]),
            "vector",
            keys=keys,
            log=v["name"].split("/")[3],
            seq=v["seq"],
            sign_public=h(doc["sign_public"]),
            device_public=h(doc["device_public"]),
            user_secrets=[h(doc["user_secret"])],
        )

    b1, b2 = opened(first), opened(second)
    assert b1.prev is None and b2.prev == h(first["chain"])


def test_batch_versions_keep_their_ids() -> None:
    doc = load("batch.json")
    mac_key = share_keys(doc).mac_key
    for v in doc["batches"]:
        batch = legacy(doc, h(v["stored"]))
        for version in batch.versions:
            assert S.mac(mac_key, VERSION_ID_PREFIX + version.canonical()) == version.id
    assert [json.loads(v["json"])["versions"] for v in doc["signed"]] == [
        json.loads(v["json"])["versions"] for v in doc["batches"]
    ]


# -- prune records -------------------------------------------------------------------------------------


@pytest.mark.parametrize("v", load("prune.json")["records"], ids=lambda v: v["name"][-4:])
def test_signed_prune_record_known_answer(v: dict[str, Any], tmp_path: Path) -> None:
    doc = load("prune.json")
    keys = share_keys(doc)
    assert keys.prune_key(0).hex() == doc["prune_key"]
    stored = h(v["stored"])
    log, tail = v["name"].split("/")[-1].split(".", 1)
    intent_id, done = tail.split(".")[0], tail.endswith(".done")
    sealed = stored[69:]
    assert len(sealed) == v["sealed_len"] and stored[:5] == b"\x02" + bytes(4)
    message = I.signed_message(keys.share_id, log, intent_id, done, 0, sealed)
    assert message == h(v["signed_prefix"]) + sealed
    assert S.sign(h(doc["sign_seed"]), message) == stored[5:69]
    backend = LocalBackend(tmp_path)
    backend.put(v["name"], stored)
    got = ShareStore(backend, keys).get_prune_record(
        log,
        intent_id,
        done,
        sign_public=h(doc["sign_public"]),
        device_public=h(doc["device_public"]),
        user_secrets=[],
    )
    assert got.to_bytes() == h(v["plaintext"])


# -- SyncConfig ------------------------------------------------------------------------------------


def test_syncconfig_plaintext() -> None:
    doc = load("syncconfig.json")
    plain = h(doc["plaintext"])
    assert gzip.decompress(plain).decode() == doc["json"]
    config = SyncConfig.from_bytes(plain)
    assert json.dumps(config.to_json(), sort_keys=True, separators=(",", ":")) == doc["json"]
    # gzip magic, deflate, no flags, mtime 0, "max compression"; byte 9 (OS) is up to the writer's zlib/Python.
    assert plain[:9] == bytes.fromhex("1f8b08000000000002")
    assert config.to_bytes()[:9] == plain[:9]
    if (zlib.ZLIB_RUNTIME_VERSION, sys.version_info[:2]) == (doc["zlib_version"], tuple(doc["python"])):
        assert config.to_bytes() == plain


def test_syncconfig_stored_version(tmp_path: Path) -> None:
    doc = load("syncconfig.json")
    mk = h(doc["master_key"])
    locator, box_key, hmac_key = K.config_keys(mk)
    stored = h(doc["stored"])
    assert doc["name"] == f"config/{locator}/{S.mac(hmac_key, stored).hex()}"
    assert S.open_secret(box_key, stored[1:], "vector") == h(doc["plaintext"])
    backend = LocalBackend(tmp_path)
    backend.put(doc["name"], stored)
    merged, names = Remote(backend).load_config(mk)
    assert names == [doc["name"]]
    assert merged == SyncConfig.from_bytes(h(doc["plaintext"]))


# -- FOG_HOME sealed under a passphrase ------------------------------------------------------------


def test_sealed_home_file() -> None:
    from fog.format.sealed import SealedFile
    from fog.repo.vault import _normalize

    doc = load("sealed.json")
    passphrase = _normalize(doc["passphrase_typed"])
    assert passphrase == h(doc["passphrase"])
    for v in doc["files"]:
        stored = v["stored"].encode("ascii")
        sealed = SealedFile.from_bytes(stored)
        assert sealed.to_bytes() == stored  # one encoding
        key = S.passphrase_key(passphrase, sealed.salt, sealed.opslimit, sealed.memlimit)
        assert key == h(v["key"]), v["limits"]
        assert S.open_secret(key, sealed.box, "vector") == doc["plaintext"].encode("ascii")
