"""Object plaintext framing: compression and bounded decompression.

An object's plaintext (what is encrypted) is ``codec (1 byte) || payload``:
codec 0x00 = raw bytes, 0x01 = one zstd frame (with its content size). The
stored object is ``OBJECT_VERSION (1 byte) || SecretBox tag || ciphertext``.
"""

from __future__ import annotations

import threading

import zstandard

OBJECT_VERSION = 0x01
CODEC_RAW = 0x00
CODEC_ZSTD = 0x01

MIN_BLOCK = 16 * 1024
AVG_BLOCK = 64 * 1024
MAX_BLOCK = 256 * 1024
MAX_STORED = MAX_BLOCK + 64  # version + SecretBox overhead (40) + codec byte, with room: readers refuse more
# pyfastcdc's avg_size excludes the skipped minimum: 48 KiB + 16 KiB ~ 64 KiB.
FASTCDC_AVG_PARAM = AVG_BLOCK - MIN_BLOCK
ZSTD_LEVEL = 3

# A ZstdCompressor must not be used by two threads at once (push frames blocks
# on several threads): one per thread.
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True)
    return compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    return decompressor


_SAMPLE = 4096


def _looks_incompressible(raw: bytes) -> bool:
    """Whether a 4 KiB sample from the middle of a large block fails to shrink.

    Compressing random or already-compressed data costs as much as the rest of
    a push together; a sample tells in a sixteenth of the time. Only blocks of
    16 KiB and more are sampled (the decision never changes what an id is).
    """
    if len(raw) < 4 * _SAMPLE:
        return False
    mid = len(raw) // 2
    sample = raw[mid - _SAMPLE // 2 : mid + _SAMPLE // 2]
    return len(_compressor().compress(sample)) > _SAMPLE * 0.97


def frame(data: bytes | memoryview) -> bytes:
    """Return codec || payload, compressing only when it shrinks the data. Thread-safe."""
    raw = bytes(data)
    if len(raw) >= 64 and not _looks_incompressible(raw):
        packed = _compressor().compress(raw)
        if len(packed) < len(raw):
            return bytes([CODEC_ZSTD]) + packed
    return bytes([CODEC_RAW]) + raw


def unframe(plain: bytes, limit: int = MAX_BLOCK) -> bytes:
    """Invert frame(); refuse payloads that would expand past `limit` bytes."""
    if not plain:
        raise ValueError("empty object plaintext")
    codec, payload = plain[0], plain[1:]
    if codec == CODEC_RAW:
        if len(payload) > limit:
            raise ValueError("object larger than the maximum block size")
        return payload
    if codec == CODEC_ZSTD:
        try:
            params = zstandard.get_frame_parameters(payload)
            if params.content_size == zstandard.CONTENTSIZE_UNKNOWN or params.content_size > limit:
                raise ValueError("compressed object declares no size or one past the maximum")
            out = _decompressor().decompress(payload, max_output_size=limit, allow_extra_data=False)
        except zstandard.ZstdError as exc:  # not a ValueError: callers only expect ValueError
            raise ValueError(f"compressed object is not one valid zstd frame: {exc}") from exc
        if len(out) != params.content_size:
            raise ValueError("compressed object size mismatch")
        return out
    raise ValueError(f"unknown object codec 0x{codec:02x}")
