"""Batches: several videos sent together, each with its own job, followed as one."""
