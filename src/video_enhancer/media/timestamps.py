"""Frame timestamps as the decoder gives them, made usable the same way in the probe and the decoder."""

from __future__ import annotations

import itertools
from fractions import Fraction


class FrameClock:
    """Gives every decoded frame its timestamp, the same way in the probe and in the decoder.

    A frame without a timestamp, or with one not after the previous frame's (timestamps that
    only the decoder could have known, raw elementary streams), gets the previous one plus the
    usual interval.
    """

    def __init__(self, interval: int) -> None:
        self.interval = max(1, interval)
        self.last: int | None = None
        self.synthetic = 0

    def __call__(self, pts: int | None) -> int:
        if pts is None or (self.last is not None and pts <= self.last):
            pts = 0 if self.last is None else self.last + self.interval
            self.synthetic += 1
        self.last = pts
        return pts


def median_interval(pts: list[int] | tuple[int, ...]) -> int:
    intervals = sorted(b - a for a, b in itertools.pairwise(pts))
    return intervals[len(intervals) // 2] if intervals else 0


def usual_interval(time_base: Fraction, packet_times: list[int], declared_rate: Fraction) -> int:
    """The usual frame interval in ``time_base``: the median packet interval, else the declared rate."""
    median = median_interval(packet_times)
    if median > 0:
        return median
    if declared_rate > 0:
        return max(1, round(1 / (declared_rate * time_base)))
    return max(1, round(Fraction(1, 25) / time_base))
