"""A session's health, from its limits: healthy, degraded or critical."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict

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
