"""Job inputs, results and logs: the interface, its S3 and in-memory implementations."""
