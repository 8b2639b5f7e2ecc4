"""A session's health, from its limits: healthy, degraded or critical."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict

from belayfw.session.events import EventLog, EventType
from belayfw.session.options import SessionLimits


class SessionHealth(enum.IntEnum):
    """Ordered (worse is greater); prints its name: ``healthy``, ``degraded``, ``critical``."""

    HEALTHY = 0
    DEGRADED = 1
    CRITICAL = 2

    def __str__(self) -> str:
        return self.name.lower()

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class LimitCheck(BaseModel):
    """One limit compared with what was measured."""

    model_config = ConfigDict(frozen=True)

    limit: str
    value: int
    bound: int
    health: SessionHealth

    @property
    def exceeded(self) -> bool:
        return self.health is not SessionHealth.HEALTHY


def check_limits(
    limits: SessionLimits, *, threads: int, deployed_bytes: int, free_memory: int | None
) -> list[LimitCheck]:
    """Compare usage with every configured limit.

    A limit crossed is DEGRADED; far past it (twice the code budget,
    or under half the minimum free memory) is CRITICAL.
    """
    checks: list[LimitCheck] = []
    if limits.max_threads is not None:
        health = SessionHealth.DEGRADED if threads > limits.max_threads else SessionHealth.HEALTHY
        checks.append(
            LimitCheck(limit="max_threads", value=threads, bound=limits.max_threads, health=health)
        )
    if limits.max_deployed_bytes is not None:
        bound = limits.max_deployed_bytes
        health = (
            SessionHealth.CRITICAL
            if deployed_bytes > 2 * bound
            else SessionHealth.DEGRADED
            if deployed_bytes > bound
            else SessionHealth.HEALTHY
        )
        checks.append(
            LimitCheck(limit="max_deployed_bytes", value=deployed_bytes, bound=bound, health=health)
        )
    if limits.min_free_memory is not None and free_memory is not None:
        bound = limits.min_free_memory
        health = (
            SessionHealth.CRITICAL
            if free_memory < bound / 2
            else SessionHealth.DEGRADED
            if free_memory < bound
            else SessionHealth.HEALTHY
        )
        checks.append(
            LimitCheck(limit="min_free_memory", value=free_memory, bound=bound, health=health)
        )
    return checks


class HealthRecord:
    """A session's health: the worst level among its limits; each change is an event."""

    def __init__(self, events: EventLog) -> None:
        self.level = SessionHealth.HEALTHY
        self._events = events
        self._by_limit: dict[str, SessionHealth] = {}

    def apply(self, checks: list[LimitCheck]) -> None:
        """Take fresh measurements; a limit newly crossed (or crossed further) is an event."""
        for check in checks:
            before = self._by_limit.get(check.limit, SessionHealth.HEALTHY)
            self._by_limit[check.limit] = check.health
            if check.exceeded and check.health > before:
                self._events.record(
                    EventType.RESOURCE_LIMIT_EXCEEDED,
                    f"{check.limit}: {check.value} against a limit of {check.bound}",
                    limit=check.limit,
                    value=check.value,
                    bound=check.bound,
                )
        self._recompute()

    def refused(self, limit: str, value: int, bound: int) -> None:
        """A request refused at a limit (one thread too many): an event, and DEGRADED."""
        self._events.record(
            EventType.RESOURCE_LIMIT_EXCEEDED,
            f"{limit}: refused at {value} (limit {bound})",
            limit=limit,
            value=value,
            bound=bound,
        )
        self._by_limit[limit] = max(
            self._by_limit.get(limit, SessionHealth.HEALTHY), SessionHealth.DEGRADED
        )
        self._recompute()

    def _recompute(self) -> None:
        health = max(self._by_limit.values(), default=SessionHealth.HEALTHY)
        if health is not self.level:
            old, self.level = self.level, health
            self._events.record(
                EventType.HEALTH_CHANGED, f"health {old} -> {health}", old=old.name, new=health.name
            )
