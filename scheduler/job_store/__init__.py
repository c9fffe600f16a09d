"""Durable job records: the interface, its DynamoDB and in-memory implementations."""
