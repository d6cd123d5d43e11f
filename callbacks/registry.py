"""Finding callbacks: built-in names, the `jobstream.callbacks` entry points, `module:Class`.

A package makes its callback known by name with an entry point:

    [project.entry-points."jobstream.callbacks"]
    notify = "my_package.notify:Notify"

A class that is not packaged is named directly as `module:Class` (the module must be
importable, e.g. from the current directory or PYTHONPATH).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from importlib.metadata import entry_points

from jobstream.callbacks.base import Callback, CallbackError

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "CallbackNotFound",
    "Installed",
    "check_name",
    "installed",
    "load",
]

ENTRY_POINT_GROUP = "jobstream.callbacks"

BUILTINS = {
    "github": "jobstream.callbacks.github:GitHubCallback",
    "stdout": "jobstream.callbacks.stdout:StdoutCallback",
    "webhook": "jobstream.callbacks.webhook:WebhookCallback",
}

# Consumer group names travel to Kafka: keep them to the characters it allows everywhere.
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class CallbackNotFound(CallbackError):
    """No callback by that name, or a `module:Class` that does not name a Callback."""


@dataclass(frozen=True, slots=True)
class Installed:
    name: str
    spec: str
    source: str
    """"built-in", or the distribution that declares the entry point."""


def installed() -> list[Installed]:
    """Every callback known by name, sorted; a built-in name cannot be taken over."""
    found = {name: Installed(name, spec, "built-in") for name, spec in BUILTINS.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            dist = ep.dist.name if ep.dist is not None else "entry point"
            found[ep.name] = Installed(ep.name, ep.value, dist)
    return sorted(found.values(), key=lambda i: i.name)


def load(name_or_spec: str) -> tuple[str, type[Callback]]:
    """The callback class for a registered name or a `module:Class` spec, and its name.

    A spec's name is the class's `name` attribute, or else the spec with ':' as '.'."""
    if ":" not in name_or_spec:
        known = {i.name: i for i in installed()}
        if name_or_spec not in known:
            names = ", ".join(sorted(known)) or "none"
            raise CallbackNotFound(
                f"no callback named {name_or_spec!r} (installed: {names}; or give module:Class)"
            )
        return name_or_spec, _import(known[name_or_spec].spec)
    cls = _import(name_or_spec)
    return cls.name or name_or_spec.replace(":", "."), cls


def check_name(name: str) -> str:
    """`name` if it can name a consumer group, else CallbackNotFound."""
    if not _NAME.match(name):
        raise CallbackNotFound(f"{name!r}: a callback name may hold only letters, digits, . _ -")
    return name


def _import(spec: str) -> type[Callback]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CallbackNotFound(f"{spec!r}: expected module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CallbackNotFound(f"{spec!r}: cannot import {module_name}: {exc}") from exc
    obj: object = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise CallbackNotFound(f"{spec!r}: {module_name} has no {attr}")
    if not (isinstance(obj, type) and issubclass(obj, Callback)):
        raise CallbackNotFound(f"{spec!r} is not a subclass of callbacks.Callback")
    return obj
