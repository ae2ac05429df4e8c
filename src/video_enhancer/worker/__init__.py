"""The processing worker: claims jobs, runs the media pipeline, verifies, stores and charges."""
