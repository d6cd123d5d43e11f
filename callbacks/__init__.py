"""Callbacks: Cyclid's three hooks, each callback run as its own consumer of the log."""

from jobstream.callbacks.base import (
    Callback,
    CallbackConfigError,
    Delivery,
    GiveUp,
    JobInfo,
    current_delivery,
)
from jobstream.callbacks.host import CallbackHost, HostStats, group_name
from jobstream.callbacks.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    CallbackNotFound,
    Installed,
    check_name,
    installed,
    load,
)
from jobstream.callbacks.store import CallbackStore, DeadLetter, HostRecord

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "Callback",
    "CallbackConfigError",
    "CallbackHost",
    "CallbackNotFound",
    "CallbackStore",
    "DeadLetter",
    "Delivery",
    "GiveUp",
    "HostRecord",
    "HostStats",
    "Installed",
    "JobInfo",
    "check_name",
    "current_delivery",
    "group_name",
    "installed",
    "load",
]
