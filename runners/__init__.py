"""The Runner and its parts: process, masking, chunking, interpolation, conditions."""

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
