"""/events and /jobs/{id}/events: the event log as Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import EventSourceResponse, ServerSentEvent

from video_enhancer.api.deps import CurrentUser, SettingsDep
from video_enhancer.api.schemas import error_responses
from video_enhancer.auth.tokens import create_stream_token, decode_access_token, decode_stream_token
from video_enhancer.errors import InvalidToken, Unauthorized
from video_enhancer.events.broker import EventBroker, Message
from video_enhancer.events.schemas import StreamTokenOut
from video_enhancer.events.service import event_text, events_after
from video_enhancer.jobs.errors import JobNotFound
from video_enhancer.jobs.router import JobIdPath
from video_enhancer.logging import bind_user_id
from video_enhancer.models import EventType, Job, User
from video_enhancer.observability.metrics import EVENT_STREAMS

router = APIRouter()

HEARTBEAT_SECONDS = 15
# A client that does not take a message for this long is disconnected (it never blocks others).
SEND_TIMEOUT_SECONDS = 30
REPLAY_PAGE = 500

_bearer = HTTPBearer(auto_error=False, description="Access token, or a stream token as ?token=")

# One Server-Sent Event: `data:` is the event JSON (EventOut), `event:` its type, `id:` its id.
_SSE_MESSAGE = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "description": "The event's id; send it back as Last-Event-ID."},
        "event": {"type": "string", "enum": [t.value for t in EventType if t is not EventType.WEBHOOK_TEST]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/EventOut"},
            "description": "The event as JSON (schema EventOut), the same as a webhook body.",
        },
    },
}
_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: one message per event (`id:`, `event:`, `data:` with the "
        "event JSON, schema `EventOut`); a `:` comment heartbeat every 15 s.",
        "content": {"text/event-stream": {"schema": _SSE_MESSAGE}},
    },
    **error_responses(401, 404),
}


def stream_user_id(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Query(description="A stream token from POST /events/token.")] = None,
) -> uuid.UUID:
    settings = request.app.state.settings
    if credentials is not None and credentials.scheme.lower() == "bearer":
        user_id = decode_access_token(credentials.credentials, settings)
    elif token:
        user_id = decode_stream_token(token, settings)
    else:
        raise Unauthorized()
    with request.app.state.session_factory() as session:
        if session.get(User, user_id) is None:
            raise InvalidToken()
    bind_user_id(str(user_id))
    return user_id


StreamUserId = Annotated[uuid.UUID, Depends(stream_user_id)]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", description="Resume after this event id.")]


@router.post(
    "/events/token",
    response_model=StreamTokenOut,
    responses=error_responses(401),
    operation_id="createStreamToken",
    summary="A short-lived, read-only token for EventSource (?token=)",
)
def create_token(user: CurrentUser, settings: SettingsDep) -> StreamTokenOut:
    return StreamTokenOut(
        token=create_stream_token(user.id, settings), expires_in=settings.stream_token_ttl_seconds
    )


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses=_STREAM_RESPONSES,
    operation_id="streamEvents",
    summary="Live events of all your jobs (Server-Sent Events)",
)
async def stream_events(
    request: Request, user_id: StreamUserId, last_event_id: LastEventId = None
) -> EventSourceResponse:
    return _response(request, user_id, None, _after(last_event_id))


@router.get(
    "/jobs/{jobId}/events",
    response_class=EventSourceResponse,
    responses=_STREAM_RESPONSES,
    operation_id="streamJobEvents",
    summary="Live events of one job; the stream ends after its final event",
)
async def stream_job_events(
    request: Request, job_id: JobIdPath, user_id: StreamUserId, last_event_id: LastEventId = None
) -> EventSourceResponse:
    factory: sessionmaker[Session] = request.app.state.session_factory
    if not await asyncio.to_thread(_owns_job, factory, user_id, job_id):
        raise JobNotFound()
    return _response(request, user_id, job_id, _after(last_event_id))


def _after(last_event_id: str | None) -> int:
    try:
        return max(0, int(last_event_id or 0))
    except ValueError:
        return 0


def _owns_job(factory: sessionmaker[Session], user_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    with factory() as session:
        job = session.get(Job, job_id)
        return job is not None and job.user_id == user_id


def _response(
    request: Request, user_id: uuid.UUID, job_id: uuid.UUID | None, after: int
) -> EventSourceResponse:
    broker: EventBroker = request.app.state.event_broker
    generator = _messages(request.app.state.session_factory, broker, user_id, job_id, after)
    return EventSourceResponse(
        generator,
        ping=HEARTBEAT_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _messages(
    factory: sessionmaker[Session],
    broker: EventBroker,
    user_id: uuid.UUID,
    job_id: uuid.UUID | None,
    after: int,
) -> AsyncIterator[ServerSentEvent]:
    subscription = broker.subscribe(user_id)  # before the replay: nothing committed meanwhile is lost
    EVENT_STREAMS.inc()
    try:
        while True:  # the replay, from the log, in pages
            batch, job_ended = await asyncio.to_thread(_read, factory, user_id, job_id, after)
            for message in batch:
                after = message.seq
                yield _sse(message)
                if job_id is not None and EventType(message.type).ends_job:
                    return
            if len(batch) < REPLAY_PAGE:
                if job_ended:
                    return  # its final event was sent before, or the log no longer has it
                break
        broker.ready(subscription, after)
        while not broker.closing:
            live = await subscription.queue.get()
            if live is None:
                return
            if job_id is not None and live.job_id != job_id:
                continue
            yield _sse(live)
            if job_id is not None and EventType(live.type).ends_job:
                return
    finally:
        EVENT_STREAMS.dec()
        broker.unsubscribe(subscription)


def _sse(message: Message) -> ServerSentEvent:
    return ServerSentEvent(data=message.text, event=message.type, id=str(message.seq))


def _read(
    factory: sessionmaker[Session], user_id: uuid.UUID, job_id: uuid.UUID | None, after: int
) -> tuple[list[Message], bool]:
    with factory() as session:
        job_ended = False
        if job_id is not None:  # read first: a job that has ended has its final event committed
            job = session.get(Job, job_id)
            job_ended = job is None or job.status.is_terminal
        events = events_after(session, user_id, after, job_id=job_id, limit=REPLAY_PAGE)
        batch = [Message(event.seq, event.type, event.job_id, event_text(event)) for event in events]
        return batch, job_ended
