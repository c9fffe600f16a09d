"""Job dependencies as the client presents them: the conditions and what is sent for them.

A job names the jobs it waits for; `Client.submit(depends_on=...)` and
`berth submit --after` both go through `dependencies_pb`, so the library and
the command line send the same message for the same words.
"""

from __future__ import annotations

import enum

from berth.scheduler.v1 import submission_pb2

_PB_PREFIX = "DEPENDENCY_CONDITION_"


class DependencyCondition(enum.StrEnum):
    """Slurm's names: when a job with dependencies may run."""

    AFTER_OK = "afterok"  # every dependency COMPLETED
    AFTER_ANY = "afterany"  # every dependency ended, however
    AFTER_NOT_OK = "afternotok"  # any dependency ended other than COMPLETED

    def to_pb(self) -> submission_pb2.DependencyCondition.ValueType:
        return submission_pb2.DependencyCondition.Value(_PB_PREFIX + self.name)

    @classmethod
    def from_pb(cls, value: int) -> DependencyCondition:
        """UNSPECIFIED (with job ids) means afterok, as the protocol says."""
        for name, number in submission_pb2.DependencyCondition.items():
            member = cls.__members__.get(name.removeprefix(_PB_PREFIX))
            if number == value and member is not None:
                return member
        return cls.AFTER_OK

    @classmethod
    def parse(cls, text: str) -> DependencyCondition:
        """Case-insensitive: "afterok", "AfterNotOk"; ValueError naming the known ones."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            known = ", ".join(c.value for c in cls)
            raise ValueError(f"unknown condition {text!r} (one of {known})") from None


def distinct(job_ids: list[str]) -> list[str]:
    """In the order given, each id once: an array and one of its jobs may both be named."""
    return list(dict.fromkeys(job_ids))


def dependencies_pb(
    job_ids: list[str], condition: DependencyCondition | str
) -> submission_pb2.Dependencies | None:
    """The message for `SubmitOptions.dependencies`; None (nothing sent) without ids."""
    if not job_ids:
        return None
    return submission_pb2.Dependencies(
        job_ids=distinct(job_ids), condition=DependencyCondition.parse(condition).to_pb()
    )
