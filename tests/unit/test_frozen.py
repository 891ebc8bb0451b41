"""fog.frozen.quick_init: the same constructor as dataclasses', still frozen."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from fog.format.version import Version
from fog.frozen import quick_init
from fog.repo.db import StatEntry


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str = "b"
    c: bytes | None = None
    cache: int | None = dataclasses.field(default=None, init=False, compare=False)


@quick_init
@dataclasses.dataclass(frozen=True, slots=True)
class Quick:
    a: int
    b: str = "b"
    c: bytes | None = None
    cache: int | None = dataclasses.field(default=None, init=False, compare=False)


def test_same_signature_and_fields() -> None:
    def params(cls: type) -> list[tuple[str, object]]:
        return [(p.name, p.default) for p in inspect.signature(cls.__init__).parameters.values()]

    assert (
        params(Quick)
        == params(Plain)
        == [
            ("self", inspect.Parameter.empty),
            ("a", inspect.Parameter.empty),
            ("b", "b"),
            ("c", None),
        ]
    )
    for args, kwargs in [((1,), {}), ((1, "x"), {}), ((1,), {"c": b"z"}), ((), {"a": 2, "b": "y", "c": None})]:
        assert dataclasses.astuple(Quick(*args, **kwargs)) == dataclasses.astuple(Plain(*args, **kwargs))
    assert Quick(1).cache is None
    assert Quick(1, "x") == Quick(1, "x") and hash(Quick(1, "x")) == hash(Quick(1, "x")) and Quick(1) != Quick(2)
    assert dataclasses.replace(Quick(1, "x"), b="y") == Quick(1, "y")
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Quick(1, cache=3)  # type: ignore[call-arg]


def test_still_frozen() -> None:
    q = Quick(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.a = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.cache = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del q.a  # type: ignore[misc]


def test_the_classes_that_use_it() -> None:
    v = Version("a/b", "file", 3, 0o644, 5, 6, "d" * 32, content=b"c" * 32)
    assert (v.parent, v.depth, v.target, v.conflict, v.id, v.encoded) == (None, 0, None, False, b"", None)
    assert v == Version.from_record(b"", v.to_record())
    e = StatEntry("p", 1, 2, 3, 4, 0o100644, False, b"v" * 32)
    assert StatEntry.from_bytes(e.to_bytes(), b"p") == e
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.size = 4  # type: ignore[misc]


def test_refuses_what_it_cannot_speed_up() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, NotFrozen, Factory, PostInit, int):
        with pytest.raises(TypeError):
            quick_init(cls)
