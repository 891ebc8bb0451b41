"""Regenerate fog's format test vectors (tests/vectors/*.json).

Run by hand, from the repository root, only when the on-disk format changes
on purpose (and bump the format version byte when it does):

    /tmp/venv/bin/python tests/vectors/generate.py

`tests/unit/test_vectors.py` checks the code against the JSON files this
writes, so an accidental format change fails the tests. Every input is fixed
here: keys, paths, times and content. docs/FORMAT.md describes the layouts.

SecretBox and Box messages carry a random nonce, so their bytes are not a
function of key and plaintext. To keep this script reproducible it replaces
`nacl.utils.random` with a counter-derived stream while it runs; the sealed
bytes it stores are ordinary messages (nonce || tag || ciphertext), and the
test only checks that they open to the expected plaintext with the given keys
(a known-answer decryption test). fog itself never fixes a nonce.

Compressed bytes (zstd for objects and batches, gzip for SyncConfig) depend on
the compression library, not only on the format. The files record the library
version that produced them; the test compares those bytes exactly only under
the same version and otherwise checks that they still decode to the pinned
plaintext.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any

import nacl.utils
import zstandard

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from fog.crypto import keys as K  # noqa: E402
from fog.crypto import seal as S  # noqa: E402
from fog.format import batch as B  # noqa: E402
from fog.format import objects as O  # noqa: E402
from fog.format import pack as P  # noqa: E402
from fog.format.intent import STORED_VERSION, Intent, record_name  # noqa: E402
from fog.format.intent import signed_message as intent_signed_message  # noqa: E402
from fog.format.manifest import ManifestNode, build_tree  # noqa: E402
from fog.format.signed import Envelope  # noqa: E402
from fog.format.syncconfig import CONFIG_VERSION, SyncConfig  # noqa: E402
from fog.format.version import VERSION_ID_PREFIX, Version  # noqa: E402
from fog.store import seal_batch  # noqa: E402

# -- fixed inputs (tests/unit/test_vectors.py reads them back from the JSON) ------

MASTER_KEYS = [bytes(16), b"\xff" * 16, bytes(range(16))]
MASTER_KEY = bytes(range(16))
SHARE_ID = bytes(range(0xA0, 0xB0))
DATA_KEY = bytes(range(32))
MAC_KEY = bytes(range(32, 64))
CHUNK_SEED = 0x0123456789ABCDEF & ((1 << 62) - 1)
DEVICE_A_SECRET = b"\x11" * 32
DEVICE_B_SECRET = b"\x33" * 32
SIGN_SEED = b"\x44" * 32  # device A's Ed25519 signing seed
USER_SECRET = b"\x22" * 32
CHUNK_INPUT_LABEL = b"fog/test-vector/chunk-input"
CHUNK_INPUT_SIZE = 2 * 1024 * 1024


def pseudo_random(label: bytes, size: int) -> bytes:
    """SHA256(label || counter as 4 bytes big-endian) blocks, concatenated and cut to size."""
    out = b"".join(hashlib.sha256(label + i.to_bytes(4, "big")).digest() for i in range((size + 31) // 32))
    return out[:size]


class FixedNonces:
    """Replace nacl.utils.random with SHA256(label || counter) while generating."""

    def __init__(self) -> None:
        self.counter = 0
        self.original = nacl.utils.random

    def __call__(self, size: int = 32) -> bytes:
        self.counter += 1
        return pseudo_random(b"fog/test-vector/nonce" + self.counter.to_bytes(4, "big"), size)

    def __enter__(self) -> FixedNonces:
        nacl.utils.random = self  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        nacl.utils.random = self.original  # type: ignore[assignment]


def share_keys() -> K.ShareKeys:
    return K.ShareKeys(SHARE_ID, DATA_KEY, MAC_KEY, CHUNK_SEED)


def share_json() -> dict[str, Any]:
    return {"share_id": SHARE_ID.hex(), "data_key": DATA_KEY.hex(), "mac_key": MAC_KEY.hex(), "chunk_seed": CHUNK_SEED}


def write(name: str, doc: dict[str, Any]) -> None:
    path = HERE / name
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


# -- keys ---------------------------------------------------------------------------


def keys_vectors() -> dict[str, Any]:
    text = [
        {
            "key": mk.hex(),
            "text": K.master_key_to_text(mk),
            "check": K.derive(K.LABEL_MASTER_CHECK, mk)[:4].hex(),
        }
        for mk in MASTER_KEYS
    ]
    locator, box_key, hmac_key = K.config_keys(MASTER_KEY)
    dev_a = S.public_of(DEVICE_A_SECRET)
    dev_b = S.public_of(DEVICE_B_SECRET)
    labels = {
        name: getattr(K, name).decode()
        for name in sorted(dir(K))
        if name.startswith("LABEL_") and isinstance(getattr(K, name), bytes)
    }
    return {
        "description": "Master key text form (Crockford base32, 4-byte checksum) and every derivation.",
        "labels": labels,
        "master_key_text": text,
        "config_keys": {
            "master_key": MASTER_KEY.hex(),
            "locator": locator,
            "secretbox_key": box_key.hex(),
            "hmac_key": hmac_key.hex(),
        },
        "derive": [
            {"label": label, "secret": MASTER_KEY.hex(), "output": K.derive(label.encode(), MASTER_KEY).hex()}
            for label in labels.values()
        ],
        "curve25519": [
            {"secret": sk.hex(), "public": S.public_of(sk).hex()}
            for sk in (DEVICE_A_SECRET, DEVICE_B_SECRET, USER_SECRET)
        ],
        "device_id": [{"public": pk.hex(), "device_id": K.device_id(pk)} for pk in (dev_a, dev_b)],
        "device_log_name": [
            {"share_id": SHARE_ID.hex(), "public": pk.hex(), "log": K.device_log_name(SHARE_ID, pk)}
            for pk in (dev_a, dev_b)
        ],
        "node_join": [
            {
                "master_key": MASTER_KEY.hex(),
                "node_public": node.hex(),
                "secret": K.node_join_keypair(MASTER_KEY, node)[0].hex(),
                "public": K.node_join_keypair(MASTER_KEY, node)[1].hex(),
            }
            for node in (dev_a, dev_b)  # any Curve25519 publics stand for node keys
        ],
    }


# -- objects and chunking ---------------------------------------------------------------


def object_vector(name: str, data: bytes) -> dict[str, Any]:
    keys = share_keys()
    object_id = S.mac(MAC_KEY, data)
    framed = O.frame(data)
    stored = bytes([O.OBJECT_VERSION]) + S.seal_block(DATA_KEY, object_id, framed)
    h = object_id.hex()
    return {
        "name": name,
        "plaintext": data.hex(),
        "id": h,
        "remote_name": f"shares/{keys.locator}/objects/{h[:2]}/{h}",
        "codec": framed[0],
        "framed": framed.hex(),
        "stored": stored.hex(),
    }


def objects_vectors() -> dict[str, Any]:
    return {
        "description": "Block objects: id = HMAC-SHA256(mac key, block); stored = 0x01 || SecretBox(nonce=id[:24]).",
        "share": share_json(),
        "zstd_version": zstandard.ZSTD_VERSION,
        "objects": [
            object_vector("short raw (under 64 bytes: never compressed)", b"fog test vector: a short block\n"),
            object_vector("incompressible raw", pseudo_random(b"fog/test-vector/incompressible", 200)),
            object_vector("zstd", b"fog test vector: compressible block. " * 100),
        ],
    }


def packs_vectors() -> dict[str, Any]:
    keys = share_keys()
    objects = objects_vectors()["objects"]
    with FixedNonces():
        data, index = P.build(keys.pack_key, [(bytes.fromhex(o["id"]), bytes.fromhex(o["stored"])) for o in objects])
    magic, version, sealed_length = data[:4], data[4], int.from_bytes(data[5:9], "big")
    sealed = data[P.HEAD_BYTES : P.HEAD_BYTES + sealed_length]
    h = index.pack.hex()
    return {
        "description": "A pack of the three objects of objects.json: 'FOGP' || 0x01 || u32be len(sealed) || sealed "
        "|| stored objects back to back; sealed = SecretBox(pack key, random nonce) of n x (id 32 || length u32be); "
        "offsets are implied (header length, then running sums); pack id = SHA256(pack bytes). "
        "Sealed bytes are a known-answer decryption vector.",
        "share": share_json(),
        "zstd_version": zstandard.ZSTD_VERSION,
        "pack_key": {"label": K.LABEL_PACK_INDEX.decode(), "secret": "data_key", "key": keys.pack_key.hex()},
        "pack": data.hex(),
        "size": len(data),
        "id": h,
        "remote_name": f"shares/{keys.locator}/packs/{h[:2]}/{h}",
        "header": {
            "magic": magic.decode(),
            "version": version,
            "sealed_length": sealed_length,
            "header_length": P.HEAD_BYTES + sealed_length,
            "nonce": sealed[: S.NONCE_BYTES].hex(),
            "entries_plaintext": P.wire_entries(index).hex(),
        },
        "entries": [
            {"object": o["name"], "id": object_id.hex(), "offset": offset, "length": length}
            for o, (object_id, offset, length) in zip(objects, index, strict=True)
        ],
    }


def chunking_vectors() -> dict[str, Any]:
    from pyfastcdc import FastCDC

    data = pseudo_random(CHUNK_INPUT_LABEL, CHUNK_INPUT_SIZE)
    chunker = FastCDC(O.FASTCDC_AVG_PARAM, min_size=O.MIN_BLOCK, max_size=O.MAX_BLOCK, seed=CHUNK_SEED)
    chunks = [bytes(c.data) for c in chunker.cut_buf(data)]
    entries = [(S.mac(MAC_KEY, c), len(c)) for c in chunks]
    nodes: list[str] = []

    def store_node(node: bytes) -> bytes:
        nodes.append(node.hex())
        return S.mac(MAC_KEY, node)

    root, depth = build_tree(entries, store_node)
    assert root is not None
    return {
        "description": "FastCDC with the share's gear seed, then the manifest tree of the resulting blocks.",
        "share": share_json(),
        "fastcdc": {
            "avg_size_param": O.FASTCDC_AVG_PARAM,
            "min_size": O.MIN_BLOCK,
            "max_size": O.MAX_BLOCK,
            "normalized_chunking": 1,
        },
        "input": {
            "recipe": "SHA256(label || i as 4 bytes big-endian) for i = 0, 1, ...; concatenated, cut to size",
            "label": CHUNK_INPUT_LABEL.decode(),
            "size": CHUNK_INPUT_SIZE,
            "sha256": hashlib.sha256(data).hexdigest(),
        },
        "chunk_lengths": [len(c) for c in chunks],
        "block_ids": [i.hex() for i, _ in entries],
        "manifest_nodes": nodes,
        "root": root.hex(),
        "depth": depth,
    }


# -- manifests --------------------------------------------------------------------------


def manifest_vectors() -> dict[str, Any]:
    ids = [S.mac(MAC_KEY, b"block %d" % i) for i in range(3)]
    node = ManifestNode(0, ((ids[0], 65536), (ids[1], 16384), (ids[2], 7)))
    parent = ManifestNode(1, ((S.mac(MAC_KEY, node.to_bytes()), node.size),))
    many = [(S.mac(MAC_KEY, b"fake block %d" % i), 65536) for i in range(500)]
    nodes: list[str] = []

    def store_node(data: bytes) -> bytes:
        nodes.append(data.hex())
        return S.mac(MAC_KEY, data)

    root, depth = build_tree(many, store_node)
    assert root is not None
    return {
        "description": "Manifest nodes: 'FM' || 0x01 || level || count (u32 BE) || (id || length u64 BE) * count.",
        "share": share_json(),
        "nodes": [
            {
                "level": n.level,
                "entries": [[i.hex(), size] for i, size in n.entries],
                "bytes": n.to_bytes().hex(),
                "id": S.mac(MAC_KEY, n.to_bytes()).hex(),
            }
            for n in (node, parent)
        ],
        "tree": {
            "entries": "500 entries: id = HMAC-SHA256(mac key, b'fake block %d' % i), length 65536",
            "count": len(many),
            "nodes": nodes,
            "root": root.hex(),
            "depth": depth,
        },
    }


# -- versions and batches ---------------------------------------------------------------


def sample_versions() -> list[Version]:
    device = K.device_id(S.public_of(DEVICE_A_SECRET))
    content = S.mac(MAC_KEY, b"fog test vector: compressible block. " * 100)
    t = 1_700_000_000_000_000_000
    file_v = Version("docs/readme.txt", "file", 3700, 0o644, t, t + 5, device, content=content, depth=0)
    parent = S.mac(MAC_KEY, VERSION_ID_PREFIX + file_v.canonical())
    return [
        file_v,
        Version("docs/big.iso", "file", 2097152, 0o600, t, t + 6, device, content=content, depth=2),
        Version("docs", "dir", 0, 0o755, 0, t + 7, device),
        Version("docs/latest", "link", 10, 0o777, t, t + 8, device, target="readme.txt"),
        Version("docs/readme.txt", "deleted", 0, 0, 0, t + 9, device, parent=parent),
        Version("Überweisung/naïve ☃.txt", "file", 0, 0o644, t, t + 10, device),
        Version(os.fsdecode(b"caf\xe9/\xff.bin"), "file", 0, 0o644, t, t + 11, device),
        Version(
            "notes.fog-conflict-20240101-120000-laptop.txt",
            "file",
            3700,
            0o644,
            t,
            t + 12,
            device,
            content=content,
            conflict=True,
        ),
    ]


def version_vectors() -> dict[str, Any]:
    out = []
    for v in sample_versions():
        canonical = v.canonical()
        vid = S.mac(MAC_KEY, VERSION_ID_PREFIX + canonical)
        sealed = v.with_id(vid)
        out.append(
            {
                "path_bytes": os.fsencode(v.path).hex(),
                "canonical": canonical.decode("utf-8"),
                "canonical_hex": canonical.hex(),
                "id": vid.hex(),
                "record": sealed.to_bytes().decode("utf-8"),
            }
        )
    return {
        "description": "Version records: id = HMAC-SHA256(mac key, 'fog/v1/version' NUL || canonical JSON).",
        "share": share_json(),
        "id_prefix": VERSION_ID_PREFIX.hex(),
        "versions": out,
    }


def batch_vectors() -> dict[str, Any]:
    dev_a_public = S.public_of(DEVICE_A_SECRET)
    user_public = S.public_of(USER_SECRET)
    sign_public = S.signing_public_of(SIGN_SEED)
    log = K.device_log_name(SHARE_ID, dev_a_public)
    device = K.device_id(dev_a_public)
    versions = [v.with_id(S.mac(MAC_KEY, VERSION_ID_PREFIX + v.canonical())) for v in sample_versions()]
    keys = share_keys()

    def sequence(seal: Any) -> list[dict[str, Any]]:
        out = []
        prev = None
        for seq, chosen in ((1, versions[:4]), (2, versions[4:])):
            batch = B.EventBatch(SHARE_ID.hex(), log, device, seq, prev, 1_700_000_001_000_000_000 + seq, tuple(chosen))
            plain = batch.to_bytes()
            body = zstandard.ZstdDecompressor().decompress(plain[5:])
            stored, extra = seal(batch, plain)
            out.append(
                {
                    "seq": seq,
                    "name": f"shares/{SHARE_ID.hex()}/log/{log}/{B.seq_name(seq)}",
                    "json": body.decode("utf-8"),
                    "plaintext": plain.hex(),
                    "stored": stored.hex(),
                    "chain": B.chain_hash(stored).hex(),
                    **extra,
                }
            )
            prev = B.chain_hash(stored)
        return out

    def boxed(batch: B.EventBatch, plain: bytes) -> tuple[bytes, dict[str, Any]]:
        return bytes([B.BATCH_VERSION_BOX]) + S.seal_box(DEVICE_A_SECRET, user_public, plain), {}

    def signed(batch: B.EventBatch, plain: bytes) -> tuple[bytes, dict[str, Any]]:
        stored = seal_batch(SIGN_SEED, keys, batch)
        sealed = stored[69:]
        message = B.signed_message(SHARE_ID, log, batch.seq, 0, sealed)
        assert S.sign(SIGN_SEED, message) == stored[5:69]
        return stored, {"epoch": 0, "signed_prefix": message[: len(message) - len(sealed)].hex()}

    with FixedNonces():
        legacy = sequence(boxed)
        current = sequence(signed)
    return {
        "description": "Event batches. 'signed' (format 4, what fog writes): stored = 0x02 || epoch u32be || "
        "Ed25519(sign seed, signed_prefix || sealed) || sealed, sealed = SecretBox(batch key of the epoch, random "
        "nonce) of 'FOGE' || 0x01 || zstd(canonical JSON); Ed25519 is deterministic, so the signature is a "
        "known-answer test, the sealed bytes a known-answer decryption test. 'batches' (before format 4, read "
        "only): stored = 0x01 || Box(device secret -> user public, random nonce) of the same plaintext.",
        "share": share_json(),
        "zstd_version": zstandard.ZSTD_VERSION,
        "device_secret": DEVICE_A_SECRET.hex(),
        "device_public": dev_a_public.hex(),
        "other_device_public": S.public_of(DEVICE_B_SECRET).hex(),
        "user_secret": USER_SECRET.hex(),
        "user_public": user_public.hex(),
        "sign_seed": SIGN_SEED.hex(),
        "sign_public": sign_public.hex(),
        "other_sign_public": S.signing_public_of(b"\x55" * 32).hex(),
        "batch_key": keys.batch_key(0).hex(),
        "batches": legacy,
        "signed": current,
    }


def prune_vectors() -> dict[str, Any]:
    dev_a_public = S.public_of(DEVICE_A_SECRET)
    log = K.device_log_name(SHARE_ID, dev_a_public)
    keys = share_keys()
    records = []
    for done in (False, True):
        intent = Intent(
            id="0f" * 16,
            share=SHARE_ID.hex(),
            device=K.device_id(dev_a_public, S.signing_public_of(SIGN_SEED)),
            time_ns=1_700_000_002_000_000_000,
            packs=(b"\x01" * 32, b"\x02" * 32),
            heads={log: 2},
            done=done,
            kept=(b"\x02" * 32,) if done else (),
        )
        with FixedNonces():
            stored = _signed_record(keys, log, intent)
        sealed = stored[69:]
        records.append(
            {
                "name": f"shares/{SHARE_ID.hex()}/prune/{record_name(log, intent.id, done=done)}",
                "plaintext": intent.to_bytes().hex(),
                "signed_prefix": intent_signed_message(SHARE_ID, log, intent.id, done, 0, b"").hex(),
                "stored": stored.hex(),
                "sealed_len": len(sealed),
            }
        )
    return {
        "description": "Prune records (format 4): stored = 0x02 || epoch u32be || Ed25519(sign seed, "
        "signed_prefix || sealed) || sealed, sealed = SecretBox(prune key of the epoch, random nonce) of "
        "'FOGI' || 0x01 || canonical JSON. Known-answer signature and decryption tests.",
        "share": share_json(),
        "device_public": dev_a_public.hex(),
        "sign_seed": SIGN_SEED.hex(),
        "sign_public": S.signing_public_of(SIGN_SEED).hex(),
        "prune_key": keys.prune_key(0).hex(),
        "records": records,
    }


def _signed_record(keys: K.ShareKeys, log: str, intent: Intent) -> bytes:
    """What ShareStore.put_prune_record stores, without a store."""
    sealed = S.seal_secret(keys.prune_key(0), intent.to_bytes())
    message = intent_signed_message(keys.share_id, log, intent.id, intent.done, 0, sealed)
    return Envelope(STORED_VERSION, 0, S.sign(SIGN_SEED, message), sealed).to_bytes()


# -- SyncConfig -----------------------------------------------------------------------------


def sample_config() -> SyncConfig:
    user = {"public": S.public_of(USER_SECRET).hex(), "secret": USER_SECRET.hex()}
    dev_a_public = S.public_of(DEVICE_A_SECRET)
    t = 1_700_000_000_000_000_000
    devices = {
        K.device_id(dev_a_public): {
            "name": "laptop",
            "public": dev_a_public.hex(),
            "trusted": True,
            "revoked": 0,
            "added": t,
            "updated": t,
        }
    }
    shares = {
        SHARE_ID.hex(): {
            "name": "Documents",
            **share_keys().to_json(),
            "created": t,
            "updated": t,
            "removed": 0,
        }
    }
    return SyncConfig(user, devices, shares, ())


def syncconfig_vectors() -> dict[str, Any]:
    config = sample_config()
    plain = config.to_bytes()
    locator, box_key, hmac_key = K.config_keys(MASTER_KEY)
    with FixedNonces():
        stored = bytes([CONFIG_VERSION]) + S.seal_secret(box_key, plain)
    return {
        "description": "SyncConfig: gzip(canonical JSON, mtime 0); stored = 0x01 || SecretBox(random nonce), "
        "named config/<locator>/<HMAC(hmac key, stored) hex>. Sealed bytes are a known-answer vector.",
        "zlib_version": zlib.ZLIB_RUNTIME_VERSION,
        "python": list(sys.version_info[:2]),
        "master_key": MASTER_KEY.hex(),
        "json": json.dumps(config.to_json(), sort_keys=True, separators=(",", ":")),
        "plaintext": plain.hex(),
        "stored": stored.hex(),
        "name": f"config/{locator}/{S.mac(hmac_key, stored).hex()}",
    }


# -- FOG_HOME sealed under a passphrase --------------------------------------------------

PASSPHRASE_TYPED = "  Cafe\u0301 au lait, 4 sugars \n"  # decomposed e + acute, white space around it


def sealed_vectors() -> dict[str, Any]:
    from fog.format.sealed import MEMLIMIT, OPSLIMIT, SealedFile
    from fog.repo.vault import _normalize

    passphrase = _normalize(PASSPHRASE_TYPED)
    plaintext = (K.master_key_to_text(MASTER_KEY) + "\n").encode()
    files = []
    for label, opslimit, memlimit in (("minimal", 1, 8192), ("interactive", OPSLIMIT, MEMLIMIT)):
        salt = pseudo_random(b"fog/test-vector/passphrase-salt/" + label.encode(), 16)
        key = S.passphrase_key(passphrase, salt, opslimit, memlimit)
        with FixedNonces():
            box = S.seal_secret(key, plaintext)
        stored = SealedFile(opslimit, memlimit, salt, box).to_bytes()
        files.append({"limits": label, "key": key.hex(), "stored": stored.decode("ascii")})
    return {
        "description": "A FOG_HOME file sealed under a passphrase: 'fog-sealed 1\\n' || canonical JSON "
        "{box, kdf, memlimit, opslimit, salt} || '\\n'; key = Argon2id(passphrase, salt, opslimit, memlimit), "
        "32 bytes; box = SecretBox(key, the file's bytes) as nonce || tag || ciphertext. The passphrase is "
        "taken without surrounding white space, in Unicode NFC, as UTF-8. Sealed bytes are a known-answer vector.",
        "passphrase_typed": PASSPHRASE_TYPED,
        "passphrase": passphrase.hex(),
        "plaintext": plaintext.decode("ascii"),
        "files": files,
    }


def main() -> None:
    write("keys.json", keys_vectors())
    write("objects.json", objects_vectors())
    write("packs.json", packs_vectors())
    write("chunking.json", chunking_vectors())
    write("manifest.json", manifest_vectors())
    write("version.json", version_vectors())
    write("batch.json", batch_vectors())
    write("prune.json", prune_vectors())
    write("syncconfig.json", syncconfig_vectors())
    write("sealed.json", sealed_vectors())


if __name__ == "__main__":
    main()
