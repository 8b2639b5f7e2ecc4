"""Sessions: lifecycle, resource tracking, capabilities, limits and health."""

from belayfw.session.capabilities import DeviceCapabilities, DeviceFeatures, PerformanceProfile
from belayfw.session.events import EventType, SessionEvent
from belayfw.session.health import SessionHealth
from belayfw.session.lifecycle import SessionState
from belayfw.session.manager import SessionManager, SessionStats, current_session, default_manager
from belayfw.session.options import SessionLimits, SessionOptions
from belayfw.session.session import DeviceSession, SessionBoard, SessionListener, maintaining
from belayfw.session.store import SessionStore
from belayfw.session.tracker import (
    BaseSessionResource,
    DeployedMethod,
    ResourceStats,
    ResourceTracker,
    SessionResource,
    ThreadRecord,
)

__all__ = [
    "BaseSessionResource",
    "DeployedMethod",
    "DeviceCapabilities",
    "DeviceFeatures",
    "DeviceSession",
    "EventType",
    "PerformanceProfile",
    "ResourceStats",
    "ResourceTracker",
    "SessionBoard",
    "SessionEvent",
    "SessionHealth",
    "SessionLimits",
    "SessionListener",
    "SessionManager",
    "SessionOptions",
    "SessionResource",
    "SessionState",
    "SessionStats",
    "SessionStore",
    "ThreadRecord",
    "current_session",
    "default_manager",
    "maintaining",
]
