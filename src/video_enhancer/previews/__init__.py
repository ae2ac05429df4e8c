"""Free before/after previews of a short span of a video (never charged)."""
