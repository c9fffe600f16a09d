"""A backend's availability for the caller's role, as the client presents it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from berth.scheduler.v1 import submission_pb2

from berth_common.times import seconds_of


class Availability(enum.StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


_FROM_PB = {
    submission_pb2.AVAILABILITY_AVAILABLE: Availability.AVAILABLE,
    submission_pb2.AVAILABILITY_MAINTENANCE: Availability.MAINTENANCE,
    submission_pb2.AVAILABILITY_UNAVAILABLE: Availability.UNAVAILABLE,
}


@dataclass(frozen=True)
class ServiceStatus:
    backend: str
    availability: Availability
    description: str
    queue_length: int
    role_max_timeout_s: float
    serving: bool  # false while the scheduler cannot reach its token database

    @classmethod
    def from_pb(cls, response: submission_pb2.GetServiceStatusResponse) -> ServiceStatus:
        limit = response.role_max_timeout
        return cls(
            backend=response.backend,
            availability=_FROM_PB.get(response.availability, Availability.UNKNOWN),
            description=response.description,
            queue_length=response.queue_length,
            role_max_timeout_s=seconds_of(limit),
            serving=response.serving,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "availability": self.availability.value,
            "description": self.description,
            "queue_length": self.queue_length,
            "role_max_timeout_s": self.role_max_timeout_s,
            "serving": self.serving,
        }
