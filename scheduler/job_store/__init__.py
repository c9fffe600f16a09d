"""Durable job records: the interface, its DynamoDB implementation and a factory."""
