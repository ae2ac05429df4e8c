"""The one way a command opens the database: a session on `VE_DATABASE_URL`, one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from video_enhancer.config import Settings, get_settings
from video_enhancer.db import make_engine, make_session_factory, session_scope


@contextmanager
def database_session(settings: Settings | None = None) -> Iterator[Session]:
    """A session committed when the block succeeds and rolled back when it raises; the engine
    (a single connection: commands are short) is disposed either way."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
