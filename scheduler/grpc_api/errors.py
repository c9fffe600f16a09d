"""How the scheduler's RPCs answer failures: the shared catalogue, the operators as contact."""

from __future__ import annotations

from berth_common.grpc_status import RpcErrors

RPC_ERRORS = RpcErrors(report_hint="please report it to the operators")
unary = RPC_ERRORS.unary
server_stream = RPC_ERRORS.server_stream
