"""Fans new events of the log out to an API process's open streams.

One loop per process reads the event counters of the users with open streams (one query for all
of them) every `VE_EVENT_POLL_SECONDS`; on PostgreSQL a LISTEN connection on `ve_events` also
wakes it at once, so an event reaches the streams of every API instance within milliseconds.
When a user's counter moved, the loop reads that user's new events ONCE and hands them to each
of the user's streams: a thousand open streams cost one query per event, not a thousand.

A stream replays the log itself (from its `Last-Event-ID`), then calls `ready` with the last id
it sent; the broker then delivers every later event, and the stream drops any id it already sent,
so an event committed during the replay is neither lost nor sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass

import psycopg
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.events.service import NOTIFY_CHANNEL, event_text, events_after
from video_enhancer.models import EventCounter

logger = logging.getLogger(__name__)

FETCH_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    type: str
    job_id: uuid.UUID | None
    text: str


class Subscription:
    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id
        self.after: int | None = None  # None until the stream's replay is done
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue()

    def offer(self, message: Message) -> None:
        if self.after is not None and message.seq > self.after:
            self.after = message.seq
            self.queue.put_nowait(message)

    def close(self) -> None:
        self.queue.put_nowait(None)


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
                subscription.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def subscribe(self, user_id: uuid.UUID) -> Subscription:
        subscription = Subscription(user_id)
        self._subscriptions[user_id].add(subscription)
        return subscription

    def ready(self, subscription: Subscription, after: int) -> None:
        """The stream has sent everything up to `after`: deliver what follows."""
        subscription.after = after
        self._known.pop(subscription.user_id, None)  # fetch for it on the next round
        self._poke.set()

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
            try:
                await self._deliver_new_events()
            except Exception:
                logger.exception("event broker could not read the event log")

    async def _deliver_new_events(self) -> None:
        users = list(self._subscriptions)
        if not users:
            return
        counters = await asyncio.to_thread(self._read_counters, users)
        for user_id, seq in counters.items():
            if self._known.get(user_id) == seq:
                continue
            cursors = [s.after for s in self._subscriptions.get(user_id, ()) if s.after is not None]
            if not cursors:
                continue
            self._known[user_id] = seq
            after = min(cursors)
            while after < seq:
                messages = await asyncio.to_thread(self._read_events, user_id, after)
                if not messages:
                    break
                for subscription in list(self._subscriptions.get(user_id, ())):
                    for message in messages:
                        subscription.offer(message)
                after = messages[-1].seq

    def _read_counters(self, users: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        with self._session_factory() as session:
            rows = session.execute(
                select(EventCounter.user_id, EventCounter.last_seq).where(EventCounter.user_id.in_(users))
            ).all()
        return {user_id: int(seq) for user_id, seq in rows}

    def _read_events(self, user_id: uuid.UUID, after: int) -> list[Message]:
        with self._session_factory() as session:
            return [
                Message(event.seq, event.type, event.job_id, event_text(event))
                for event in events_after(session, user_id, after, limit=FETCH_LIMIT)
            ]

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
