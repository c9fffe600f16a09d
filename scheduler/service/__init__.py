"""The job service: state machine, limits and queue, knowing nothing of gRPC or boto3."""
