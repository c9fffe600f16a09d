"""Job inputs, results and logs: the interface, its S3 implementation and a factory."""
