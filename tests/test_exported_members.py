"""Each package's `__all__` names what it re-exports, and every name there exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    f"jobstream.{name}"
    for name in (
        "events",
        "events.log",
        "events.documents",
        "runners",
        "runners.actions",
        "runners.builders",
        "dispatcher",
        "projections",
        "callbacks",
        "service",
    )
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_resolve_and_are_listed_once(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__all__
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    missing = [n for n in exported if not hasattr(package, n)]
    assert not missing


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_import_is_exported(name: str) -> None:
    package = importlib.import_module(name)
    public = {
        n
        for n, value in vars(package).items()
        if not n.startswith("_") and getattr(value, "__module__", "").startswith(f"{name}.")
    }
    assert public <= set(package.__all__)
