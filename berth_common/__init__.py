"""What every Berth process shares: log line formats and option-value parsing.

Kept tiny and free of gRPC and AWS, so the agent on a hardware host and the
token database import nothing of the scheduler's.
"""
