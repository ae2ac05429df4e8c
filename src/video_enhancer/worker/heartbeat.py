"""The lease heartbeat: a thread per running job that keeps extending its lease.

It beats every third of the lease, so two missed beats still leave the lease alive. When an
extension changes no row the lease has been lost (expired and recovered, or the job was
finished elsewhere): `lost` is set and the job stops at its next checkpoint without writing.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from video_enhancer.queue.database import ClaimedJob, SessionFactory, extend_lease

logger = logging.getLogger(__name__)


class LeaseHeartbeat:
    def __init__(
        self,
        session_factory: SessionFactory,
        claimed: ClaimedJob,
        lease_seconds: float,
        lost: threading.Event,
    ) -> None:
        self._session_factory = session_factory
        self._claimed = claimed
        self._lease_seconds = lease_seconds
        self.lost = lost
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{claimed.job_id}", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        interval = max(0.05, self._lease_seconds / 3)
        while not self._done.wait(interval):
            try:
                if not extend_lease(self._session_factory, self._claimed, self._lease_seconds):
                    logger.warning("job lease lost", extra={"job": str(self._claimed.job_id)})
                    self.lost.set()
                    return
            except Exception:  # a database hiccup: the next beat retries before the lease runs out
                logger.exception("lease extension failed")
