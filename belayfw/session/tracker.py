"""What a session started on the board, so that ending it really cleans up.

Three kinds of record: board threads, deployed methods, and any user resource
following the :class:`SessionResource` protocol. Cleanup runs in reverse order
of registration, continues past failures and raises one
:class:`~belayfw.errors.ResourceCleanupError` holding every failure.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from belayfw.errors import ArgumentTypeError, ResourceCleanupError

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@runtime_checkable
class SessionResource(Protocol):
    """Anything a session should clean up when it ends.

    ``estimated_cost`` is a relative weight (the seeds use bytes of board RAM).
    ``cleanup()`` undoes the resource; it may raise, and the tracker carries on.
    """

    resource_id: str
    resource_type: str
    estimated_cost: int
    created_at: datetime

    def cleanup(self) -> None: ...


class BaseSessionResource(ABC):
    """A convenient base for resources: fills in id, time, and a type from the class."""

    resource_type: str = ""
    estimated_cost: int = 0

    def __init__(self, resource_id: str) -> None:
        self.resource_id = resource_id
        self.created_at = _now()
        if not self.resource_type:
            self.resource_type = type(self).__name__

    @abstractmethod
    def cleanup(self) -> None: ...

    def __repr__(self) -> str:
        return f"<{self.resource_type} {self.resource_id!r} cost={self.estimated_cost}>"


class ThreadRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    method: str
    started_at: datetime = Field(default_factory=_now)
    session_id: str


class DeployedMethod(BaseModel):
    model_config = ConfigDict(frozen=True)

    signature: str
    code_hash: str
    deployed_at: datetime = Field(default_factory=_now)
    session_id: str
    size: int = 0
    sent: bool = Field(default=True, description="False when the board already held it")


class TypeStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int
    total_cost: int


class ResourceStats(BaseModel):
    """Counts and costs, by resource type."""

    model_config = ConfigDict(frozen=True)

    by_type: dict[str, TypeStats]
    threads: int
    deployed_methods: int
    total_cost: int


class ResourceTracker:
    """One session's threads, deployed methods and resources; thread-safe."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._lock = threading.Lock()
        self._threads: dict[int, ThreadRecord] = {}
        self._methods: dict[str, DeployedMethod] = {}
        self._resources: list[SessionResource] = []

    # -- threads --------------------------------------------------------------------

    def register_thread(self, thread_id: int, method: str) -> ThreadRecord:
        record = ThreadRecord(id=thread_id, method=method, session_id=self.session_id)
        with self._lock:
            self._threads[thread_id] = record
        return record

    def unregister_thread(self, thread_id: int) -> None:
        with self._lock:
            self._threads.pop(thread_id, None)

    @property
    def threads(self) -> list[ThreadRecord]:
        with self._lock:
            return list(self._threads.values())

    # -- deployed methods -----------------------------------------------------------

    def register_method(self, signature: str, code_hash: str, *, size: int, sent: bool) -> None:
        record = DeployedMethod(
            signature=signature,
            code_hash=code_hash,
            session_id=self.session_id,
            size=size,
            sent=sent,
        )
        with self._lock:
            self._methods[signature] = record

    @property
    def deployed_methods(self) -> list[DeployedMethod]:
        with self._lock:
            return list(self._methods.values())

    @property
    def deployed_bytes(self) -> int:
        with self._lock:
            return sum(record.size for record in self._methods.values())

    def forget_methods(self) -> None:
        with self._lock:
            self._methods.clear()

    # -- user resources --------------------------------------------------------------

    def register(self, resource: SessionResource) -> SessionResource:
        """Track ``resource``; it is cleaned up when the session ends (latest first)."""
        if not isinstance(resource, SessionResource):
            raise ArgumentTypeError(
                f"{resource!r} is not a SessionResource: it needs resource_id, resource_type, "
                "estimated_cost, created_at and cleanup()"
            )
        with self._lock:
            self._resources.append(resource)
        return resource

    def unregister(self, resource: SessionResource) -> None:
        with self._lock:
            self._resources = [item for item in self._resources if item is not resource]

    @property
    def resources(self) -> list[SessionResource]:
        with self._lock:
            return list(self._resources)

    def stats(self) -> ResourceStats:
        with self._lock:
            resources = list(self._resources)
            threads = len(self._threads)
            methods = len(self._methods)
        counts: dict[str, list[int]] = {}
        for resource in resources:
            entry = counts.setdefault(resource.resource_type, [0, 0])
            entry[0] += 1
            entry[1] += int(resource.estimated_cost)
        by_type = {name: TypeStats(count=c, total_cost=cost) for name, (c, cost) in counts.items()}
        return ResourceStats(
            by_type=by_type,
            threads=threads,
            deployed_methods=methods,
            total_cost=sum(stats.total_cost for stats in by_type.values()),
        )

    def cleanup(self) -> None:
        """Clean every resource, newest first; raise all failures together at the end."""
        with self._lock:
            resources, self._resources = self._resources, []
        failures: list[Exception] = []
        for resource in reversed(resources):
            try:
                resource.cleanup()
            except Exception as exc:
                log.warning(
                    "cleanup of %s %s failed: %s", resource.resource_type, resource.resource_id, exc
                )
                exc.add_note(f"while cleaning {resource.resource_type} {resource.resource_id!r}")
                failures.append(exc)
        if failures:
            raise ResourceCleanupError(
                f"{len(failures)} of {len(resources)} resource(s) failed to clean up", failures
            )
