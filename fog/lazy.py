"""Modules imported on first use, for start-up time (issue 5: a no-change push is mostly imports)."""

from __future__ import annotations

import importlib
from types import ModuleType


class _LazyModule:
    """Stands in for a module until one of its attributes is read; then imports it (once, thread-safe).

    importlib.util.LazyLoader would do the same, but it swaps the module object
    in sys.modules behind other importers' backs and was not thread-safe
    before Python 3.12; this proxy only ever calls import_module.
    """

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> object:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str) -> ModuleType:
    """A stand-in for `import name` that imports it when first used."""
    return _LazyModule(name)  # type: ignore[return-value]
