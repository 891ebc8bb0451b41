"""Event batches: what one push publishes, numbered and chained per device.

Plaintext: ``b"FOGE" || version (1) || zstd(canonical JSON)`` with the JSON
object {share, log, device, seq, prev, time_ns, versions}, plus on a
store of format 3 (docs/FORMAT.md, section 14) `forget` (ids of versions the
device forgets) and `acks` (prune intents the device has observed), each
present only when not empty. Stored on the
remote as a signed envelope (fog.format.signed): ``0x02 || key epoch ||
Ed25519 signature || SecretBox(the epoch's batch key)``, the signature by
the writer's signing key over `signed_message`; batches written before store
format 4 are ``0x01 || NaCl Box(device secret -> user public)`` and are read
only. `prev` is SHA256 of the previous stored batch of the same device (null
for seq 1), so a store that drops, reorders or rolls back batches is detected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import zstandard

from fog.format.signed import epoch_bytes, raw_id
from fog.format.version import Version

MAGIC = b"FOGE"
PLAIN_VERSION = 0x01
BATCH_VERSION = 0x02  # signed (fog.format.signed): what writers write
BATCH_VERSION_BOX = 0x01  # Box-sealed, unsigned: written before store format 4, still read
SIGN_DOMAIN = b"fog/v1/batch\0"
MAX_PLAINTEXT = 1 << 30
MAX_STORED = MAX_PLAINTEXT + (1 << 20)  # zstd, seal and signature on top: a larger stored batch is refused unread


def signed_message(share_id: bytes, log: str, seq: int, epoch: int, sealed: bytes) -> bytes:
    """What a batch's signature covers: its place (share, log, seq), its key epoch and its sealed bytes.

    A signed batch moved to another share, log or number no longer verifies;
    `prev`, inside the sealed plaintext, ties it to the batch before.
    """
    if len(share_id) != 16 or not 1 <= seq < 1 << 64:
        raise ValueError("a batch is placed by a 16-byte share id and a sequence number >= 1")
    return SIGN_DOMAIN + share_id + raw_id(log, 16, "a log name") + seq.to_bytes(8, "big") + epoch_bytes(epoch) + sealed


@dataclass(frozen=True)
class EventBatch:
    """One device's publication of the versions a push made."""

    share: str
    log: str
    device: str
    seq: int
    prev: bytes | None
    time_ns: int
    versions: tuple[Version, ...] = field(default_factory=tuple)
    forgets: tuple[bytes, ...] = ()  # version ids this device forgets (retention, `fog forget`)
    acks: tuple[str, ...] = ()  # prune intents (hex ids) observed before this batch's push decided anything

    def to_bytes(self) -> bytes:
        head = {
            "share": self.share,
            "log": self.log,
            "device": self.device,
            "seq": self.seq,
            "prev": self.prev.hex() if self.prev else None,
            "time_ns": self.time_ns,
        }
        if self.forgets:
            head["forget"] = [f.hex() for f in self.forgets]
        if self.acks:
            head["acks"] = list(self.acks)
        # The canonical JSON of {**head, "versions": [...]}: "versions" sorts last, so
        # the versions are encoded one by one and joined -- the same bytes as one
        # json.dumps of the whole document, without a dict per version held at once.
        opening = json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=False)[:-1]
        body = b"".join([opening.encode(), b',"versions":[', b",".join(v.to_bytes() for v in self.versions), b"]}"])
        packed = zstandard.ZstdCompressor(level=3, write_content_size=True).compress(body)
        return MAGIC + bytes([PLAIN_VERSION]) + packed

    @classmethod
    def from_bytes(cls, data: bytes) -> EventBatch:
        if data[:4] != MAGIC or len(data) < 5 or data[4] != PLAIN_VERSION:
            raise ValueError("not a version-1 event batch")
        try:
            body = zstandard.ZstdDecompressor().decompress(data[5:], max_output_size=MAX_PLAINTEXT)
            doc = json.loads(body)
        except zstandard.ZstdError as exc:  # not a ValueError (json errors are)
            raise ValueError(f"event batch does not decompress: {exc}") from exc
        if not isinstance(doc, dict):
            raise ValueError("malformed event batch: not a JSON object")
        try:
            seq = int(doc["seq"])
            if seq < 1:
                raise ValueError("batch sequence numbers start at 1")
            return cls(
                share=str(doc["share"]),
                log=str(doc["log"]),
                device=str(doc["device"]),
                seq=seq,
                prev=bytes.fromhex(doc["prev"]) if doc["prev"] else None,
                time_ns=int(doc["time_ns"]),
                versions=tuple(Version.from_json(v) for v in doc["versions"]),
                forgets=_hex_ids(doc.get("forget", []), 32, "forget"),
                acks=tuple(i.hex() for i in _hex_ids(doc.get("acks", []), 16, "acks")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed event batch: {exc}") from exc


def _hex_ids(items: object, size: int, what: str) -> tuple[bytes, ...]:
    """A list of hex ids of `size` bytes each, else ValueError."""
    if not isinstance(items, list):
        raise ValueError(f"malformed event batch: {what} is not a list")
    out = []
    for item in items:
        if not isinstance(item, str) or len(item) != 2 * size:
            raise ValueError(f"malformed event batch: {what} holds {item!r:.40}")
        out.append(bytes.fromhex(item))  # ValueError when not hex
    return tuple(out)


def chain_hash(stored: bytes) -> bytes:
    """The value the next batch names as `prev`: SHA256 of the stored bytes."""
    return hashlib.sha256(stored).digest()


def seq_name(seq: int) -> str:
    """Zero-padded name of a batch in its device's log, so names sort."""
    return f"{seq:010d}"
