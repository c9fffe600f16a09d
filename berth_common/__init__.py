"""What every Berth process shares: the error catalogue, option loading, durations and
times, backoff, log line formats.

Free of AWS, and of gRPC except in grpc_status.py, so the agent on a hardware host,
the token database and the client import nothing of the scheduler's.
"""
