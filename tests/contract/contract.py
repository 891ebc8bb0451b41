"""The Backend contract as tests, run unchanged against every backend.

A backend's test module subclasses `BackendContract` and provides a `backend`
fixture yielding a fresh, empty backend (see `test_local.py`).
"""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest

from fog.backends.base import Backend
from fog.errors import AlreadyExists, ObjectNotFound, RemoteError

BAD_NAMES = ["", "../x", "a//b", "/abs", "a/", "a/../b", ".", "..", "a/./b", "sp ace", "a\\b", "ü"]
BAD_NAMES += ["a\n", "fog-store\n"]  # a trailing newline (a `$` in a pattern would let it pass)


class BackendContract:
    """Generic tests for the `fog.backends.base.Backend` protocol."""

    def test_is_a_backend(self, backend: Backend) -> None:
        assert isinstance(backend, Backend)
        assert isinstance(backend.url, str) and backend.url

    @pytest.mark.parametrize("data", [b"", b"x", os.urandom(1 << 20)], ids=["empty", "one-byte", "1MiB"])
    def test_put_get_round_trip(self, backend: Backend, data: bytes) -> None:
        backend.put("data/ab/object", data)
        assert backend.get("data/ab/object") == data

    def test_put_overwrites(self, backend: Backend) -> None:
        backend.put("obj", b"old value")
        backend.put("obj", b"new")
        assert backend.get("obj") == b"new"

    def test_put_new_creates(self, backend: Backend) -> None:
        backend.put_new("events/0001", b"first")
        assert backend.get("events/0001") == b"first"

    def test_put_new_refuses_existing_and_keeps_value(self, backend: Backend) -> None:
        backend.put_new("events/0001", b"first")
        with pytest.raises(AlreadyExists):
            backend.put_new("events/0001", b"second")
        assert backend.get("events/0001") == b"first"

    def test_put_new_refuses_name_made_by_put(self, backend: Backend) -> None:
        backend.put("cfg", b"first")
        with pytest.raises(AlreadyExists):
            backend.put_new("cfg", b"second")
        assert backend.get("cfg") == b"first"

    def test_already_exists_is_a_remote_error(self) -> None:
        assert issubclass(AlreadyExists, RemoteError)

    def test_put_new_race_has_one_winner(self, backend: Backend) -> None:
        writers = 8
        barrier = threading.Barrier(writers)
        outcomes: list[tuple[int, str]] = []
        lock = threading.Lock()

        def write(i: int) -> None:
            barrier.wait()
            try:
                backend.put_new("race/name", f"writer {i}".encode() * 1000)
                result = "won"
            except AlreadyExists:
                result = "lost"
            except Exception as e:  # recorded so the assertion below shows it
                result = f"error {type(e).__name__}: {e}"
            with lock:
                outcomes.append((i, result))

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert Counter(r for _, r in outcomes) == {"won": 1, "lost": writers - 1}, outcomes
        winner = next(i for i, r in outcomes if r == "won")
        assert backend.get("race/name") == f"writer {winner}".encode() * 1000

    def test_get_missing_is_not_found(self, backend: Backend) -> None:
        with pytest.raises(ObjectNotFound):
            backend.get("no/such/object")

    def test_get_missing_under_existing_object_is_not_found(self, backend: Backend) -> None:
        backend.put("leaf", b"x")
        with pytest.raises(ObjectNotFound):
            backend.get("leaf/child")

    def test_get_of_a_directory_is_not_found(self, backend: Backend) -> None:
        backend.put("dir/child", b"x")
        with pytest.raises(ObjectNotFound):
            backend.get("dir")
        assert not backend.exists("dir")

    def test_get_range_whole_object(self, backend: Backend) -> None:
        data = os.urandom(1000)
        backend.put("pack/1", data)
        assert backend.get_range("pack/1", 0, len(data)) == data

    def test_get_range_middle_slice(self, backend: Backend) -> None:
        data = bytes(range(256)) * 4
        backend.put("pack/1", data)
        assert backend.get_range("pack/1", 100, 50) == data[100:150]
        assert backend.get_range("pack/1", 0, 1) == data[:1]
        assert backend.get_range("pack/1", len(data) - 1, 1) == data[-1:]

    def test_get_range_past_the_end_returns_the_tail(self, backend: Backend) -> None:
        data = os.urandom(1000)
        backend.put("pack/1", data)
        assert backend.get_range("pack/1", 900, 500) == data[900:]
        assert backend.get_range("pack/1", 0, 5000) == data

    def test_get_range_at_or_past_the_end_is_empty(self, backend: Backend) -> None:
        backend.put("pack/1", b"0123456789")
        assert backend.get_range("pack/1", 10, 5) == b""
        assert backend.get_range("pack/1", 11, 5) == b""
        assert backend.get_range("pack/1", 1 << 40, 5) == b""
        assert backend.get_range("pack/1", (1 << 63) - 6, 5) == b""  # the last range a file offset can end
        backend.put("pack/empty", b"")
        assert backend.get_range("pack/empty", 0, 5) == b""

    def test_get_range_of_length_zero_is_empty(self, backend: Backend) -> None:
        backend.put("pack/1", b"0123456789")
        assert backend.get_range("pack/1", 0, 0) == b""
        assert backend.get_range("pack/1", 5, 0) == b""
        assert backend.get_range("pack/1", 50, 0) == b""

    def test_get_range_missing_is_not_found(self, backend: Backend) -> None:
        with pytest.raises(ObjectNotFound):
            backend.get_range("no/such/object", 0, 10)
        with pytest.raises(ObjectNotFound):
            backend.get_range("no/such/object", 0, 0)
        with pytest.raises(ObjectNotFound):
            backend.get_range("no/such/object", 100, 10)
        backend.put("leaf", b"x")
        with pytest.raises(ObjectNotFound):
            backend.get_range("leaf/child", 0, 10)

    def test_get_range_of_a_directory_is_not_found(self, backend: Backend) -> None:
        backend.put("dir/child", b"x")
        with pytest.raises(ObjectNotFound):
            backend.get_range("dir", 0, 10)
        with pytest.raises(ObjectNotFound):
            backend.get_range("dir", 0, 0)

    def test_get_range_large_slice(self, backend: Backend) -> None:
        data = os.urandom(3 << 20)
        backend.put("pack/big", data)
        offset = (1 << 20) + 12345  # not a multiple of any read size
        assert backend.get_range("pack/big", offset, 1 << 20) == data[offset : offset + (1 << 20)]
        assert backend.get_range("pack/big", len(data) - 100_000, 1 << 20) == data[-100_000:]

    @pytest.mark.parametrize(
        "offset, length", [(-1, 10), (0, -1), (-5, -5), (1 << 63, 10), (0, 1 << 64), (1 << 62, 1 << 62)]
    )
    def test_get_range_negative_or_past_a_file_offset_is_value_error(
        self, backend: Backend, offset: int, length: int
    ) -> None:
        backend.put("pack/1", b"0123456789")
        with pytest.raises(ValueError):
            backend.get_range("pack/1", offset, length)
        with pytest.raises(ValueError):
            backend.get_range("no/such/object", offset, length)

    def test_not_found_is_a_remote_error(self) -> None:
        assert issubclass(ObjectNotFound, RemoteError)

    def test_delete(self, backend: Backend) -> None:
        backend.put("a/b", b"x")
        backend.delete("a/b")
        assert not backend.exists("a/b")
        with pytest.raises(ObjectNotFound):
            backend.get("a/b")
        assert list(backend.list("")) == []

    def test_delete_missing_is_not_found(self, backend: Backend) -> None:
        with pytest.raises(ObjectNotFound):
            backend.delete("no/such/object")

    def test_exists(self, backend: Backend) -> None:
        assert backend.exists("x/y") is False
        backend.put("x/y", b"")
        assert backend.exists("x/y") is True

    def test_list_nested_yields_each_name_once(self, backend: Backend) -> None:
        names = {"marker", "data/00/aa", "data/00/bb", "data/01/cc", "events/dev1/0001", "a.b-c_d"}
        for n in names:
            backend.put(n, n.encode())
        backend.put("data/00/aa", b"overwritten")  # still one name
        listed = list(backend.list(""))
        assert len(listed) == len(set(listed))
        assert set(listed) == names

    def test_list_prefix(self, backend: Backend) -> None:
        for n in ["data/00/aa", "data/01/bb", "datax/cc", "events/1", "top"]:
            backend.put(n, b"")
        assert sorted(backend.list("data/")) == ["data/00/aa", "data/01/bb"]
        assert sorted(backend.list("data/00/")) == ["data/00/aa"]

    def test_list_missing_prefix_yields_nothing(self, backend: Backend) -> None:
        assert list(backend.list("nothing/here/")) == []
        backend.put("other/x", b"")
        assert list(backend.list("nothing/")) == []

    def test_list_empty_backend(self, backend: Backend) -> None:
        assert list(backend.list("")) == []

    @pytest.mark.parametrize("name", BAD_NAMES)
    def test_invalid_names_refused(self, backend: Backend, name: str) -> None:
        with pytest.raises(ValueError):
            backend.put(name, b"x")
        with pytest.raises(ValueError):
            backend.put_new(name, b"x")
        with pytest.raises(ValueError):
            backend.get(name)
        with pytest.raises(ValueError):
            backend.get_range(name, 0, 1)
        with pytest.raises(ValueError):
            backend.exists(name)
        with pytest.raises(ValueError):
            backend.delete(name)

    def test_sync_keeps_objects(self, backend: Backend) -> None:
        backend.sync()  # nothing written yet
        for i in range(20):
            backend.put(f"data/{i:02d}/obj", bytes([i]) * 100)
        backend.put_new("events/0001", b"batch")
        backend.sync()
        backend.sync()
        for i in range(20):
            assert backend.get(f"data/{i:02d}/obj") == bytes([i]) * 100
        assert backend.get("events/0001") == b"batch"

    def test_close_is_idempotent(self, backend: Backend) -> None:
        backend.put("x", b"y")
        backend.close()
        backend.close()
