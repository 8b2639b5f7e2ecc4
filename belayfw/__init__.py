"""belayfw: drive MicroPython boards from host Python."""

from belayfw.decorators import setup, task, teardown, thread
from belayfw.device import Device
from belayfw.errors import (
    ArgumentTypeError,
    BelayError,
    BoardFileNotFound,
    CircuitOpen,
    CommandError,
    ConfigurationError,
    DeviceDisconnected,
    DeviceError,
    DeviceNotOpen,
    FeatureUnavailable,
    InvalidTransition,
    PortInUse,
    PortNotFound,
    ProtocolError,
    ResourceCleanupError,
    SerializationError,
    SessionError,
    SessionLimitExceeded,
    TaskTimeout,
)
from belayfw.executors import ThreadHandle, ThreadState
from belayfw.protocol import LinkStats
from belayfw.session import (
    BaseSessionResource,
    DeviceCapabilities,
    DeviceSession,
    EventType,
    SessionHealth,
    SessionLimits,
    SessionManager,
    SessionOptions,
    SessionResource,
    SessionState,
    current_session,
    default_manager,
)
from belayfw.transports import register_scheme
from belayfw.transports.emulator import EmulatorBoard

__version__ = "0.1.0"

__all__ = [
    "ArgumentTypeError",
    "BaseSessionResource",
    "BelayError",
    "BoardFileNotFound",
    "CircuitOpen",
    "CommandError",
    "ConfigurationError",
    "Device",
    "DeviceCapabilities",
    "DeviceDisconnected",
    "DeviceError",
    "DeviceNotOpen",
    "DeviceSession",
    "EmulatorBoard",
    "EventType",
    "FeatureUnavailable",
    "InvalidTransition",
    "LinkStats",
    "PortInUse",
    "PortNotFound",
    "ProtocolError",
    "ResourceCleanupError",
    "SerializationError",
    "SessionError",
    "SessionHealth",
    "SessionLimitExceeded",
    "SessionLimits",
    "SessionManager",
    "SessionOptions",
    "SessionResource",
    "SessionState",
    "TaskTimeout",
    "ThreadHandle",
    "ThreadState",
    "current_session",
    "default_manager",
    "register_scheme",
    "setup",
    "task",
    "teardown",
    "thread",
]
