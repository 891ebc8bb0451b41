"""Retrying transient failures, as a wrapper around any backend.

Transient failures (`RemoteError.transient`: timeouts, dropped connections,
throttling, 5xx) are retried with exponential backoff and full jitter;
everything else, `ObjectNotFound` and `AlreadyExists` included, passes through
at once. Backends themselves never retry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from fog.backends.base import Backend
from fog.errors import AlreadyExists, ObjectNotFound, RemoteError

T = TypeVar("T")


class RetryingBackend:
    """Backend wrapper: up to `attempts` tries of each operation."""

    def __init__(
        self,
        inner: Backend,
        *,
        attempts: int = 6,
        base_delay: float = 0.25,
        max_delay: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.url = inner.url
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self.retries = 0  # total retries made, for reporting and tests

    def retry(self, fn: Callable[[], T]) -> T:
        """`fn()`, retried like every call of the backend (for a backend's own steps, e.g. connecting)."""
        return self._call(fn)

    def _call(self, fn: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except (ObjectNotFound, AlreadyExists):
                raise
            except RemoteError as exc:
                if not exc.transient or attempt == self.attempts:
                    raise
                self.retries += 1
                self._sleep(random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1))))
        raise AssertionError("unreachable")

    def put(self, name: str, data: bytes) -> None:
        self._call(lambda: self.inner.put(name, data))

    def put_new(self, name: str, data: bytes) -> None:
        # A retried put_new whose first try landed reports AlreadyExists; the
        # caller compares content when that matters (batches are re-read).
        self._call(lambda: self.inner.put_new(name, data))

    def get(self, name: str) -> bytes:
        return self._call(lambda: self.inner.get(name))

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        return self._call(lambda: self.inner.get_range(name, offset, length))

    def exists(self, name: str) -> bool:
        return self._call(lambda: self.inner.exists(name))

    def list(self, prefix: str) -> Iterator[str]:
        return iter(self._call(lambda: list(self.inner.list(prefix))))

    def delete(self, name: str) -> None:
        self._call(lambda: self.inner.delete(name))

    def sync(self, *, every: bool = False) -> None:
        self._call(lambda: self.inner.sync(every=every))

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)
