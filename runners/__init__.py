"""The Runner and its parts: process, masking, chunking, interpolation, conditions."""

from runners.chunking import LogChunk, LogChunker
from runners.conditions import ConditionError, evaluate
from runners.executor import Runner
from runners.interpolation import interpolate
from runners.masking import Masker, MaskingStream
from runners.notifier import Notifier
from runners.process import LineSplitter, Output, Process
from runners.workspace import GitSource, WorkspaceError, job_workspace

__all__ = [
    "ConditionError",
    "GitSource",
    "LineSplitter",
    "LogChunk",
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
