"""TLS for the scheduler's ports.

Bearer tokens travel in every call's metadata, so anything beyond loopback
needs TLS. The submission port authenticates clients by token only; the
execution port can also demand a client certificate signed by a given CA
(`--tls-client-ca`), so that a leaked executor token alone cannot take jobs.
"""

from __future__ import annotations

import grpc

from scheduler.config import TlsFiles


def server_credentials(
    files: TlsFiles | None, *, verify_clients: bool
) -> grpc.ServerCredentials | None:
    """None means a plaintext port; files were checked readable at start-up (config.py)."""
    if files is None:
        return None
    pair = [(files.key.read_bytes(), files.cert.read_bytes())]
    if verify_clients and files.client_ca is not None:
        return grpc.ssl_server_credentials(
            pair, root_certificates=files.client_ca.read_bytes(), require_client_auth=True
        )
    return grpc.ssl_server_credentials(pair)


def bind(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    if credentials is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, credentials)
