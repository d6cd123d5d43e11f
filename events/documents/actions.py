"""The actions a step may name: every entry point of the group `jobstream.actions`.

An entry point's name is the action's name (`slack`); its object is the action (a
`jobstream.runners.actions.Action` subclass) whose `step` attribute is the pydantic model
of the step's fields, a subclass of `ActionStep` with `action: Literal["<name>"]`. The
built-in actions are registered the same way, in jobstream's own pyproject.toml, so a
package adds one exactly as jobstream does (docs/actions.md).

This is the document side: validation needs only names and step models, and loading the
entry points is deferred until the first document is checked, so importing the document
language never imports a plugin.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, get_args

from jobstream.events.errors import JobstreamError

if TYPE_CHECKING:
    from jobstream.events.documents.models import ActionStep

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionRegistryError",
    "action_names",
    "registered_actions",
    "step_model",
]

ENTRY_POINT_GROUP = "jobstream.actions"


class ActionRegistryError(JobstreamError):
    """An installed action that cannot be used: the installation, not a document, is wrong."""


@functools.cache
def registered_actions() -> Mapping[str, Any]:
    """Every registered action by name, loaded once per process."""
    from jobstream.events.documents.models import ActionStep

    chosen: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        other = chosen.setdefault(point.name, point)
        if other.value != point.value:
            raise ActionRegistryError(
                f"action {point.name!r} is registered twice: {other.value} and {point.value}"
            )
    actions: dict[str, Any] = {}
    for name, point in sorted(chosen.items()):
        where = f"entry point {name!r} ({point.value}) of {ENTRY_POINT_GROUP}"
        try:
            action = point.load()
        except Exception as error:
            raise ActionRegistryError(f"{where} cannot be loaded: {error}") from error
        model = getattr(action, "step", None)
        if not (isinstance(model, type) and issubclass(model, ActionStep)):
            raise ActionRegistryError(f"{where} has no `step` model (a subclass of ActionStep)")
        if get_args(model.model_fields["action"].annotation) != (name,):
            raise ActionRegistryError(f"{where}: its step model needs action: Literal[{name!r}]")
        actions[name] = action
    return MappingProxyType(actions)


def step_model(name: str) -> type[ActionStep] | None:
    action = registered_actions().get(name)
    return None if action is None else action.step


def action_names() -> list[str]:
    return sorted(registered_actions())
