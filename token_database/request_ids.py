"""A request id per RPC, for the log lines of that call.

The scheduler sends the id of the client call that needs a token checked as
`x-request-id`; the token database adopts it, so both logs show one id for
one call. Without one (an admin tool, a bad value) a new id is made. The id
goes back in the trailing metadata either way.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import grpc

from token_database.logging_setup import request_id_var

REQUEST_ID_KEY = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # it is logged: no newlines, nothing huge


def bind_request_id(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """Set the current RPC's request id (this RPC's task has a context of its own)."""
    sent = dict(context.invocation_metadata() or ()).get(REQUEST_ID_KEY)
    request_id = sent if isinstance(sent, str) and _SANE.fullmatch(sent) else uuid.uuid4().hex
    request_id_var.set(request_id)
    context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
    return request_id
