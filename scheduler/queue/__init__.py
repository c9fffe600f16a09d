"""The in-memory priority queues: a cache of the QUEUED jobs in the job table."""
