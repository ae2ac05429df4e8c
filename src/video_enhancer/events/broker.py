"""Wakes an API process's open streams when their user's event log grows.

One loop per process reads the event counters of the users with open streams (one query for all
of them) every `VE_EVENT_POLL_SECONDS`; on PostgreSQL a LISTEN connection on `ve_events` also
wakes it at once, so an event reaches the streams of every API instance within milliseconds.
Streams then read the log themselves: a wake-up is only a hint, never the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict

import psycopg
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.events.service import NOTIFY_CHANNEL
from video_enhancer.models import EventCounter

logger = logging.getLogger(__name__)


class Subscription:
    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)
        self._woken.clear()


class EventBroker:
    def __init__(
        self, session_factory: sessionmaker[Session], database_url: str, poll_seconds: float
    ) -> None:
        self._session_factory = session_factory
        self._database_url = database_url
        self.poll_seconds = poll_seconds
        self._subscriptions: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._known: dict[uuid.UUID, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._poke = asyncio.Event()
        self.closing = False

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._poll_loop()))
        if self._database_url.startswith("postgresql"):
            self._tasks.append(asyncio.create_task(self._listen_loop()))

    async def stop(self) -> None:
        self.closing = True
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.wake()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def subscribe(self, user_id: uuid.UUID) -> Subscription:
        subscription = Subscription(user_id)
        self._subscriptions[user_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscriptions = self._subscriptions.get(subscription.user_id)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscriptions[subscription.user_id]
                self._known.pop(subscription.user_id, None)

    @property
    def open_streams(self) -> int:
        return sum(len(s) for s in self._subscriptions.values())

    async def _poll_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.poll_seconds)
            self._poke.clear()
            users = list(self._subscriptions)
            if not users:
                continue
            try:
                counters = await asyncio.to_thread(self._read_counters, users)
            except Exception:
                logger.exception("event broker could not read the event counters")
                continue
            for user_id, seq in counters.items():
                if self._known.get(user_id) != seq:
                    self._known[user_id] = seq
                    for subscription in list(self._subscriptions.get(user_id, ())):
                        subscription.wake()

    def _read_counters(self, users: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        with self._session_factory() as session:
            rows = session.execute(
                select(EventCounter.user_id, EventCounter.last_seq).where(EventCounter.user_id.in_(users))
            ).all()
        return {user_id: int(seq) for user_id, seq in rows}

    async def _listen_loop(self) -> None:
        url = make_url(self._database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    async for _notify in conn.notifies():
                        self._poke.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("event broker lost its LISTEN connection; polling until it is back")
                await asyncio.sleep(1.0)
