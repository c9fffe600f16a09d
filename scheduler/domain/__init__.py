"""The scheduler's domain: jobs, roles and errors, free of gRPC and boto3."""
