"""PullResult.absorb: one remote's report merged into the whole pull's."""

from __future__ import annotations

from fog.sync.pull import PullResult


class Counted(str):
    """A str that counts the equality tests made on it (a list's `in` makes one per element)."""

    eq_calls = 0

    def __eq__(self, other: object) -> bool:
        Counted.eq_calls += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_absorb_keeps_order_and_drops_repeats() -> None:
    total = PullResult("a")
    total.updated = ["x", "y"]
    total.foreign_logs = [{"log": "l1", "at": 1}]
    other = PullResult("b")
    other.updated = ["y", "z", "x", "w", "z"]
    other.foreign_logs = [{"at": 1, "log": "l1"}, {"log": "l2"}]  # dicts: not hashable, equal in any key order
    total.absorb(other)
    assert total.updated == ["x", "y", "z", "w"]
    assert total.foreign_logs == [{"log": "l1", "at": 1}, {"log": "l2"}]


def test_absorb_is_linear_in_the_paths() -> None:
    """A clone of 124,000 paths spent most of 439 s here: each path was looked for in a list of the
    paths before it. The equality tests stay proportional to the paths, not to their square."""
    n = 3000
    other = PullResult("r")
    other.updated = [Counted(f"dir/file-{i}") for i in range(n)]
    total = PullResult("r")
    Counted.eq_calls = 0
    total.absorb(other)
    assert total.updated == other.updated
    assert Counted.eq_calls < 10 * n
