"""The job queue: the `jobs` table is the queue on the embedded default (see docs/adr/0002)."""
