"""Session options and limits, as pydantic models: a bad value names its field.

A bad value raises :class:`~belayfw.errors.ConfigurationError` (also a ``ValueError``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from belayfw.validation import Options


class SessionLimits(Options):
    """Per-session limits; crossing one is recorded and moves the session's health."""

    max_threads: int | None = Field(default=None, ge=0, description="board threads at once")
    max_deployed_bytes: int | None = Field(default=None, ge=0, description="bytes of board code")
    min_free_memory: int | None = Field(default=None, ge=0, description="board heap bytes free")


class SessionOptions(Options):
    """How a :class:`~belayfw.session.SessionManager` runs its sessions."""

    max_concurrent_sessions: int = Field(default=64, ge=1)
    default_session_timeout: float | None = Field(
        default=None, gt=0, description="seconds idle before a session is ended (None: never)"
    )
    max_events: int = Field(default=256, ge=1, description="events kept per session")
    purge_on_end: bool = Field(
        default=False, description="remove the session's deployed code from the board at its end"
    )
    limits: SessionLimits = Field(default_factory=SessionLimits)
    thread_stop_timeout: float = Field(default=5.0, gt=0)
    capability_cache: Path | None = Field(
        default=None,
        description="folder for cached board capabilities (None: the user cache folder)",
    )
    cache_capabilities: bool = True
    reconnect_attempts: int = Field(default=5, ge=1, description="before the circuit opens")
    reconnect_cooldown: float = Field(
        default=30.0, gt=0, description="seconds the circuit stays open"
    )
