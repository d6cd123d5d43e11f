"""A package's public names, imported from their modules on first use.

A package `__init__` that imports every module eagerly makes `import jobstream.projections`
load DuckDB for a caller that wanted only a record model, and `jobstream list` answered
by a server paid for all of it. With `lazy_exports` the package says where each name
lives and the name is imported the first time it is read. The package still lists the
names in `__all__` (tests/test_exported_members.py checks it) and imports them under
`TYPE_CHECKING` for type checkers; `lazy_exports` refuses a table that disagrees with
`__all__`, so the lists cannot drift.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, where: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`(__getattr__, __dir__)` for `package`: `where` maps each of its submodules to the
    public names it holds. Any other name is looked up as a submodule
    (`jobstream.projections.queries`), as an eager package would have bound it."""
    module_of = {name: module for module, names in where.items() for name in names}
    exported = sys.modules[package].__dict__.get("__all__", [])
    if sorted(module_of) != sorted(exported):
        raise ImportError(f"{package}: __all__ and its lazy table name different things")

    def __getattr__(name: str) -> Any:
        if name not in module_of:
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module_of[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *module_of})

    return __getattr__, __dir__
