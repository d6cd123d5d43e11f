"""Builders: where a step's processes run (`sandbox`, `host`, or a plugin).

A package makes a builder known by name with an entry point, as Cyclid's builders are
plugins:

    [project.entry-points."jobstream.builders"]
    container = "my_package.container:ContainerBuilder"

The class subclasses `Builder`; it is made with the keywords `hidden` and `network`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from jobstream.runners.builders.base import (
    SCRIPT_DIR,
    Builder,
    BuilderUnavailable,
    Launch,
    Spawn,
)
from jobstream.runners.builders.host import HostBuilder
from jobstream.runners.builders.sandbox import SandboxBuilder

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "SCRIPT_DIR",
    "Builder",
    "BuilderUnavailable",
    "HostBuilder",
    "Launch",
    "SandboxBuilder",
    "Spawn",
    "builder_class",
    "builder_names",
]

ENTRY_POINT_GROUP = "jobstream.builders"

BUILTINS: dict[str, type[Builder]] = {"host": HostBuilder, "sandbox": SandboxBuilder}


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def builder_names() -> list[str]:
    """Every builder that can be named: the built-ins and the installed plugins."""
    return sorted({*BUILTINS, *_plugins()})


def builder_class(name: str) -> type[Builder]:
    """The builder called `name`; a built-in name cannot be taken over by a plugin."""
    if name in BUILTINS:
        return BUILTINS[name]
    spec = _plugins().get(name)
    if spec is None:
        raise BuilderUnavailable(
            f"no builder named {name!r} (installed: {', '.join(builder_names())})"
        )
    module_name, _, attr = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise BuilderUnavailable(f"builder {name!r} ({spec}) cannot be loaded: {error}") from None
    if not (isinstance(found, type) and issubclass(found, Builder)):
        raise BuilderUnavailable(f"builder {name!r} ({spec}) is not a Builder class")
    return found
