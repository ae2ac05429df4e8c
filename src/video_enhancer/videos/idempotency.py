"""`Idempotency-Key`: a retried request gets the first answer instead of doing the work twice.

Stripe's semantics: the same key with the same route and body within `KEY_TTL` replays the
stored answer; the same key with another request is refused (`IDEMPOTENCY_KEY_REUSED`, 422).
Keys are scoped to the user. The user row is locked before the key is looked up, so two
simultaneous requests with one key run one after the other and the second replays the first
(on SQLite, `BEGIN IMMEDIATE` already serialises them). The answer is stored in the request's
own transaction: a request that fails stores nothing, and its retry runs again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from video_enhancer.models import IdempotencyKey, utcnow
from video_enhancer.videos import repository
from video_enhancer.videos.errors import IdempotencyKeyReused

KEY_TTL = timedelta(hours=24)
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

ResponseT = TypeVar("ResponseT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class IdempotentResult(Generic[ResponseT]):
    response: ResponseT
    replayed: bool


def request_hash(route: str, body: dict[str, Any]) -> str:
    canonical = json.dumps({"route": route, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_idempotent(
    session: Session,
    user_id: uuid.UUID,
    key: str | None,
    fingerprint: str,
    produce: Callable[[], ResponseT],
    model: type[ResponseT],
    status_code: int = 200,
) -> IdempotentResult[ResponseT]:
    """`produce()` once per (user, key); later calls with the same fingerprint get its answer."""
    if key is None:
        return IdempotentResult(produce(), replayed=False)
    repository.lock_user(session, user_id)
    stored = _live_key(session, user_id, key, utcnow())
    if stored is not None:
        if stored.request_hash != fingerprint:
            raise IdempotencyKeyReused()
        return IdempotentResult(model.model_validate(stored.response_body), replayed=True)
    response = produce()
    session.add(
        IdempotencyKey(
            user_id=user_id,
            key=key,
            request_hash=fingerprint,
            response_status=status_code,
            response_body=response.model_dump(mode="json", by_alias=True),
        )
    )
    session.flush()
    return IdempotentResult(response, replayed=False)


def _live_key(session: Session, user_id: uuid.UUID, key: str, now: datetime) -> IdempotencyKey | None:
    stored = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if stored is not None and stored.created_at <= now - KEY_TTL:
        session.delete(stored)  # expired: the key may be used afresh
        session.flush()
        return None
    return stored


def prune_expired_keys(session: Session, now: datetime | None = None) -> int:
    """Delete keys past their 24 hours; for a periodic task. Returns how many."""
    cutoff = (now or utcnow()) - KEY_TTL
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at <= cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
