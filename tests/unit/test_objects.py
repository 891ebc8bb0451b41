"""Object plaintext framing and chunking parameters (fog.format.objects)."""

from __future__ import annotations

import io
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st
from pyfastcdc import FastCDC

from fog.format import objects as O


def test_parameters() -> None:
    assert (O.MIN_BLOCK, O.AVG_BLOCK, O.MAX_BLOCK) == (16384, 65536, 262144)
    assert O.FASTCDC_AVG_PARAM == 49152
    assert (O.OBJECT_VERSION, O.CODEC_RAW, O.CODEC_ZSTD) == (1, 0, 1)


@given(
    st.binary(max_size=4096) | st.builds(lambda n, b: b * n, st.integers(1, 3000), st.binary(min_size=1, max_size=8))
)
def test_frame_round_trip(data: bytes) -> None:
    framed = O.frame(data)
    assert framed[0] in (O.CODEC_RAW, O.CODEC_ZSTD)
    assert len(framed) <= len(data) + 1  # compression is used only where it shrinks
    assert O.unframe(framed) == data


def test_codec_choice() -> None:
    assert O.frame(b"a" * 63) == b"\x00" + b"a" * 63  # short: never compressed
    assert O.frame(b"a" * 64)[0] == O.CODEC_ZSTD
    noise = os.urandom(1000)
    assert O.frame(noise) == b"\x00" + noise  # does not shrink: stored raw
    assert O.frame(memoryview(b"x" * 100)) == O.frame(b"x" * 100)


def test_max_block_round_trips() -> None:
    for data in (bytes(O.MAX_BLOCK), os.urandom(O.MAX_BLOCK)):
        assert O.unframe(O.frame(data)) == data


def test_empty_plaintext_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        O.unframe(b"")


@pytest.mark.parametrize("codec", [2, 3, 0x7F, 0xFF])
def test_unknown_codec_is_refused(codec: int) -> None:
    with pytest.raises(ValueError, match="unknown object codec"):
        O.unframe(bytes([codec]) + b"payload")


def test_raw_past_the_limit_is_refused() -> None:
    assert O.unframe(b"\x00" + bytes(O.MAX_BLOCK)) == bytes(O.MAX_BLOCK)
    with pytest.raises(ValueError, match="larger"):
        O.unframe(b"\x00" + bytes(O.MAX_BLOCK + 1))
    with pytest.raises(ValueError):
        O.unframe(b"\x00" + bytes(11), limit=10)


def test_zstd_frame_declaring_more_than_256_kib_is_refused() -> None:
    bomb = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(O.MAX_BLOCK + 1))
    assert len(bomb) < 100
    with pytest.raises(ValueError, match="maximum"):
        O.unframe(b"\x01" + bomb)
    ok = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(O.MAX_BLOCK))
    assert O.unframe(b"\x01" + ok) == bytes(O.MAX_BLOCK)
    with pytest.raises(ValueError):
        O.unframe(b"\x01" + ok, limit=O.MAX_BLOCK - 1)


def test_zstd_frame_without_declared_size_is_refused() -> None:
    out = io.BytesIO()
    with zstandard.ZstdCompressor(write_content_size=False).stream_writer(out, closefd=False) as w:
        w.write(b"x" * 1000)
    frame = out.getvalue()
    assert zstandard.get_frame_parameters(frame).content_size == zstandard.CONTENTSIZE_UNKNOWN
    with pytest.raises(ValueError, match="no size"):
        O.unframe(b"\x01" + frame)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not zstd at all",
        zstandard.ZstdCompressor(write_content_size=True).compress(b"x" * 1000)[:-3],  # truncated
        zstandard.ZstdCompressor(write_content_size=True).compress(b"x" * 1000) + b"trailing",
        zstandard.ZstdCompressor(write_content_size=True).compress(b"x" * 1000) * 2,  # two frames
    ],
    ids=["empty", "garbage", "truncated", "trailing", "two-frames"],
)
def test_malformed_zstd_is_a_value_error(payload: bytes) -> None:
    with pytest.raises(ValueError):
        O.unframe(b"\x01" + payload)


@given(st.binary(max_size=200))
def test_unframe_only_raises_value_error(payload: bytes) -> None:
    for codec in (0, 1, 2):
        try:
            O.unframe(bytes([codec]) + payload)
        except ValueError:
            pass


def _chunker(seed: int) -> FastCDC:
    return FastCDC(O.FASTCDC_AVG_PARAM, min_size=O.MIN_BLOCK, max_size=O.MAX_BLOCK, seed=seed)


def test_chunk_sizes_stay_in_bounds_and_depend_on_the_seed() -> None:
    data = random.Random(1).randbytes(4 << 20)
    lengths = [c.length for c in _chunker(12345).cut_buf(data)]
    assert sum(lengths) == len(data)
    assert all(O.MIN_BLOCK < n <= O.MAX_BLOCK for n in lengths[:-1])
    assert 40_000 < sum(lengths) / len(lengths) < 110_000
    assert [c.length for c in _chunker(54321).cut_buf(data)] != lengths
    # The streaming path (large files) cuts exactly where the buffer path does.
    assert [c.length for c in _chunker(12345).cut_stream(io.BytesIO(data))] == lengths


def test_an_edit_changes_only_nearby_chunks() -> None:
    data = bytearray(random.Random(2).randbytes(4 << 20))
    before = {bytes(c.data) for c in _chunker(99).cut_buf(bytes(data))}
    data[2 << 20] ^= 0xFF
    after = [bytes(c.data) for c in _chunker(99).cut_buf(bytes(data))]
    assert len([c for c in after if c not in before]) <= 3


def test_frame_is_thread_safe() -> None:
    """push frames blocks on several threads; one shared ZstdCompressor crashed there."""
    blocks = [bytes([i]) * 20000 + os.urandom(3000) for i in range(64)]
    expected = [O.frame(b) for b in blocks]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(10):
            assert list(pool.map(O.frame, blocks)) == expected
