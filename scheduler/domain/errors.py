"""The scheduler's domain speaks the shared error catalogue (berth_common/errors.py)."""

from __future__ import annotations

from berth_common.errors import (
    BerthError,
    ErrorKind,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "BerthError",
    "ErrorKind",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]
