"""belayfw: drive MicroPython boards from host Python."""

from belayfw.decorators import setup, task, teardown, thread
from belayfw.device import Device
from belayfw.errors import (
    BelayError,
    CircuitOpen,
    DeviceDisconnected,
    DeviceError,
    FeatureUnavailable,
    InvalidTransition,
    ProtocolError,
    ResourceCleanupError,
    SerializationError,
    SessionError,
    SessionLimitExceeded,
    TaskTimeout,
)
from belayfw.executors import ThreadHandle
from belayfw.protocol import LinkStats
from belayfw.transports import register_scheme

__version__ = "0.1.0"

__all__ = [
    "BelayError",
    "CircuitOpen",
    "Device",
    "DeviceDisconnected",
    "DeviceError",
    "FeatureUnavailable",
    "InvalidTransition",
    "LinkStats",
    "ProtocolError",
    "ResourceCleanupError",
    "SerializationError",
    "SessionError",
    "SessionLimitExceeded",
    "TaskTimeout",
    "ThreadHandle",
    "register_scheme",
    "setup",
    "task",
    "teardown",
    "thread",
]
