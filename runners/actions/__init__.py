"""Actions: what a step does. One module per built-in; a package adds its own (docs/actions.md).

Every action, built-in or not, is an entry point of the group `jobstream.actions`; the
runner asks `get_action` for the one a step names, and validation asks the same registry
(`events.documents.actions`) for the names and step models.
"""

from jobstream.runners.actions.base import (
    Action,
    ActionJob,
    ActionSettings,
    get_action,
    workspace_path,
)

__all__ = ["Action", "ActionJob", "ActionSettings", "get_action", "workspace_path"]
