"""The Runner and its parts: process, masking, chunking, interpolation, conditions.

Names are imported from their modules on first use (jobstream.events.lazy), so a module
that needs one part (the settings need `runners.workspace.Retention`) does not load the
whole runner, the document language and cryptography with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobstream.events.lazy import lazy_exports

if TYPE_CHECKING:
    from jobstream.runners.chunking import LogChunker
    from jobstream.runners.conditions import ConditionError, evaluate
    from jobstream.runners.executor import Runner
    from jobstream.runners.interpolation import interpolate
    from jobstream.runners.masking import Masker, MaskingStream
    from jobstream.runners.notifier import Notifier
    from jobstream.runners.process import LineSplitter, Output, Process
    from jobstream.runners.workspace import GitSource, WorkspaceError, job_workspace

__all__ = [
    "ConditionError",
    "GitSource",
    "LineSplitter",
    "LogChunker",
    "Masker",
    "MaskingStream",
    "Notifier",
    "Output",
    "Process",
    "Runner",
    "WorkspaceError",
    "evaluate",
    "interpolate",
    "job_workspace",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "chunking": ["LogChunker"],
        "conditions": ["ConditionError", "evaluate"],
        "executor": ["Runner"],
        "interpolation": ["interpolate"],
        "masking": ["Masker", "MaskingStream"],
        "notifier": ["Notifier"],
        "process": ["LineSplitter", "Output", "Process"],
        "workspace": ["GitSource", "WorkspaceError", "job_workspace"],
    },
)
