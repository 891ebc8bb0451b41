"""A faster __init__ for frozen, slotted dataclasses built once per file or version.

dataclasses gives a frozen class an __init__ that calls object.__setattr__
by field name for every field: a Version (13 fields) takes ~4.3 us to build,
and a push builds two per changed file, plus a StatEntry or two, a Content
and a scan Entry. Setting each slot through its descriptor does the same
work, checks included, in about half the time; the class stays frozen
(assignment after construction still raises FrozenInstanceError).

Imports nothing beyond dataclasses: fog.format.version and fog.repo.db use it.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Replace the __init__ of a @dataclass(frozen=True, slots=True) class (apply after @dataclass).

    The new __init__ takes the same arguments with the same defaults (fields
    with init=False are set to their default); default factories and
    __post_init__ are not supported (refused with TypeError).
    """
    frozen = dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    if not frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init wants a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init does not call __post_init__")
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    ns: dict[str, object] = {}
    args: list[str] = []
    body: list[str] = []
    for f in params:
        if f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: quick_init does not support default factories")
        ns[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.init:
            if f.default is dataclasses.MISSING:
                args.append(f.name)
            else:
                ns[f"_default_{f.name}"] = f.default
                args.append(f"{f.name}=_default_{f.name}")
            body.append(f"    _set_{f.name}(self, {f.name})")
        else:
            ns[f"_default_{f.name}"] = f.default
            body.append(f"    _set_{f.name}(self, _default_{f.name})")
    source = f"def __init__(self, {', '.join(args)}):\n" + "\n".join(body or ["    pass"]) + "\n"
    exec(source, ns)  # how dataclasses builds its own __init__
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls
