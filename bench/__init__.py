"""The benchmark harness of Berth: `python -m bench` (see README, Performance).

It measures the scheduler as a separate process against an AWS emulator, and
in the same run the floors of that stack (bare gRPC, single DynamoDB and S3
calls), so every target is a ratio that means the same on any machine.
"""
