"""Callbacks: Cyclid's three hooks, each callback run as a projection of the log with its own
store and position."""

from jobstream.callbacks.base import (
    Callback,
    CallbackConfigError,
    CallbackError,
    Delivery,
    DeliveryFailed,
    GiveUp,
    JobInfo,
    current_delivery,
)
from jobstream.callbacks.host import CallbackHost, CallbackProjection, DeliveryPolicy, HostStats
from jobstream.callbacks.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    CallbackNotFound,
    Installed,
    check_name,
    installed,
    load,
)
from jobstream.callbacks.store import CallbackStore, HostRecord, Outcomes

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "Callback",
    "CallbackConfigError",
    "CallbackError",
    "CallbackHost",
    "CallbackNotFound",
    "CallbackProjection",
    "CallbackStore",
    "Delivery",
    "DeliveryFailed",
    "DeliveryPolicy",
    "GiveUp",
    "HostRecord",
    "HostStats",
    "Installed",
    "JobInfo",
    "Outcomes",
    "check_name",
    "current_delivery",
    "installed",
    "load",
]
