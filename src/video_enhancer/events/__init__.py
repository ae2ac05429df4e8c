"""The job event log, and the live stream (Server-Sent Events) that reads it.

Every job transition appends an event in its own transaction (`append_event`); the stream and the
webhooks read the same rows, so a client that reconnects, or a receiver that was down, misses
nothing.
"""
