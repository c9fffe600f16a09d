"""The agent's side of the ExecutionService: one channel, the token on every call.

grpc reconnects a broken channel by itself; the options below keep its own
reconnect backoff short, so that after a scheduler restart the next heartbeat
or poll gets through within a second or two rather than grpc's default of up
to two minutes. Retrying *calls* is the caller's business (see backoff.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from berth.scheduler.v1 import execution_pb2, execution_pb2_grpc

from berth_common.times import to_duration
from executor_agent.token_file import TokenFile

# Quick reconnects after a scheduler restart; not grpc.min_reconnect_backoff_ms,
# which also bounds how long one connection attempt may take (see scheduler_client).
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
)
CALL_TIMEOUT_S = 15.0


class SchedulerUnreachable(Exception):
    pass


class SchedulerRefused(Exception):
    """The scheduler answered that this agent's configuration can never get work."""


def channel_credentials(
    ca: Path | None, cert: Path | None, key: Path | None
) -> grpc.ChannelCredentials:
    """TLS to the execution port: system roots unless a CA is given, a client cert if any."""
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes() if ca else None,
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


class SchedulerLink:
    def __init__(
        self, address: str, token: TokenFile, credentials: grpc.ChannelCredentials | None = None
    ) -> None:
        self.address = address
        self._token = token
        self._channel = (
            grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
            if credentials is None
            else grpc.aio.secure_channel(address, credentials, options=CHANNEL_OPTIONS)
        )
        self._stub = execution_pb2_grpc.ExecutionServiceStub(self._channel)

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._token.token()}"),)

    async def wait_until_reachable(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout_s)
        except TimeoutError:
            raise SchedulerUnreachable(
                f"cannot reach the scheduler at {self.address} within {timeout_s:g}s "
                "(is it running, and is this its execution port?)"
            ) from None

    async def check_backend(self, backend: str) -> None:
        """SchedulerRefused when the scheduler does not know `backend` (no job would ever come).

        Any other failure is left to the polling loop's own handling and retries.
        """
        try:
            await self._stub.CheckBackend(
                execution_pb2.CheckBackendRequest(backend=backend),
                metadata=self._metadata(),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise SchedulerRefused(
                    f"the scheduler at {self.address} does not serve --backend {backend!r}: "
                    f"{error.details()}"
                ) from None

    async def assign(
        self, backend: str, agent_id: str, wait_s: float
    ) -> execution_pb2.AssignNextJobResponse:
        request = execution_pb2.AssignNextJobRequest(
            backend=backend, agent_id=agent_id, wait=to_duration(wait_s)
        )
        # The deadline catches a connection that died silently mid-poll.
        return await self._stub.AssignNextJob(
            request, metadata=self._metadata(), timeout=wait_s + CALL_TIMEOUT_S
        )

    async def heartbeat(
        self, job_id: str, agent_id: str, timeout_s: float
    ) -> execution_pb2.HeartbeatResponse:
        request = execution_pb2.HeartbeatRequest(job_id=job_id, agent_id=agent_id)
        return await self._stub.Heartbeat(request, metadata=self._metadata(), timeout=timeout_s)

    async def report(
        self, request: execution_pb2.ReportExecutionResultRequest
    ) -> execution_pb2.ReportExecutionResultResponse:
        return await self._stub.ReportExecutionResult(
            request, metadata=self._metadata(), timeout=CALL_TIMEOUT_S
        )

    async def refresh_upload_url(
        self, job_id: str, agent_id: str
    ) -> execution_pb2.RefreshUploadUrlResponse:
        request = execution_pb2.RefreshUploadUrlRequest(job_id=job_id, agent_id=agent_id)
        return await self._stub.RefreshUploadUrl(
            request, metadata=self._metadata(), timeout=CALL_TIMEOUT_S
        )

    async def close(self) -> None:
        await self._channel.close(grace=None)
