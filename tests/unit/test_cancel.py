"""fog.cancel: worker loops stop at their next unit of work once a stop is requested."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from fog import cancel
from fog.crypto import keys as K
from fog.store import Packer
from fog.sync import content


@pytest.fixture(autouse=True)
def _no_request_left() -> Iterator[None]:
    cancel.clear()
    yield
    cancel.clear()


def test_cancelled_carries_the_exit_code_of_its_signal() -> None:
    assert cancel.Cancelled(2).exit_code == 130
    assert cancel.Cancelled(15).exit_code == 143
    assert cancel.Cancelled().exit_code == 130
    assert not isinstance(cancel.Cancelled(), Exception)  # no `except Exception` takes it for a failure
    cancel.check()
    cancel.request(15)
    cancel.request(2)  # the first request decides
    with pytest.raises(cancel.Cancelled) as info:
        cancel.check()
    assert info.value.signum == 15


def test_a_packer_ships_nothing_once_cancelled() -> None:
    shipped: list[int] = []
    packer = Packer(K.ShareKeys.generate().pack_key, lambda data, index: shipped.append(len(index)), target=1000)
    packer.add(b"\1" * 32, os.urandom(600))
    cancel.request()
    with pytest.raises(cancel.Cancelled):
        packer.add(b"\2" * 32, os.urandom(600))
    with pytest.raises(cancel.Cancelled):
        packer.flush()  # a flush never reports success after a request: no batch may follow
    assert shipped == []


def test_a_producer_waiting_for_an_upload_slot_stops() -> None:
    release = threading.Event()
    packer = Packer(K.ShareKeys.generate().pack_key, lambda data, index: release.wait(10), target=100, in_flight=1)
    packer.add(b"\1" * 32, os.urandom(200))  # fills a pack: its upload holds the only slot
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            packer.add(b"\2" * 32, os.urandom(200))  # waits for the slot
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=produce)
    t.start()
    time.sleep(0.1)
    cancel.request()
    t.join(2)
    assert not t.is_alive() and isinstance(errors[0], cancel.Cancelled)
    release.set()


def test_reading_a_large_file_stops_between_two_chunks() -> None:
    taken = 0

    def chunks() -> Iterator[SimpleNamespace]:
        nonlocal taken
        while True:  # an endless file
            taken += 1
            if taken == 50:
                cancel.request()
            yield SimpleNamespace(data=b"x" * 1000, length=1000)

    with pytest.raises(cancel.Cancelled):
        content._put_parallel(lambda data: b"id", chunks())  # type: ignore[arg-type]
    assert taken == 50


def test_stopping_drops_queued_work_and_stops_the_running_one() -> None:
    started = threading.Event()

    def work(i: int) -> None:
        started.set()
        while True:
            cancel.check()
            time.sleep(0.001)

    pool = ThreadPoolExecutor(1)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt), cancel.stopping(pool):
        futures = [pool.submit(work, i) for i in range(10)]
        started.wait(5)
        raise KeyboardInterrupt  # a library caller's Ctrl-C, under Python's own handler
    assert time.monotonic() - t0 < 5
    assert futures[0].exception() is not None and all(f.cancelled() for f in futures[1:])
    assert cancel.requested()


def test_an_interrupted_download_leaves_no_temp_file(tmp_path: Path) -> None:
    blocks = 0

    class Store:
        def read_blocks(self, root: bytes, depth: int, what: str) -> Iterator[bytes]:
            nonlocal blocks
            while True:
                blocks += 1
                if blocks == 5:
                    cancel.request()
                yield b"y" * 4096

    v = SimpleNamespace(kind="file", depth=0, content=b"c", path="f", size=1 << 30, mode=0o644, mtime_ns=0)
    with pytest.raises(cancel.Cancelled):
        content.stage_version(Store(), v, str(tmp_path))  # type: ignore[arg-type]
    assert blocks == 5 and list(tmp_path.iterdir()) == []
