"""Structured JSON logs with the request id (or job id) on every line.

Context travels in context variables, so any log call made while handling a request or a job
carries its ids without passing them around.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)


@dataclass(slots=True)
class LogContext:
    """Ids learnt while a request runs, shared by every task and thread of that request.

    FastAPI runs sync dependencies in a copy of the request's context, so a `ContextVar.set` made
    there is invisible to the endpoint and to the access log. A mutable object bound once at the
    start of the request is shared by all those copies, so what `bind_user_id` writes is seen by
    every later log line of the request.
    """

    user_id: str | None = None


log_context_var: ContextVar[LogContext | None] = ContextVar("log_context", default=None)


def bind_user_id(user_id: str) -> None:
    """Attach the authenticated user to every later log line of this request (or job)."""
    user_id_var.set(user_id)
    context = log_context_var.get()
    if context is not None:
        context.user_id = user_id


def current_user_id() -> str | None:
    context = log_context_var.get()
    return user_id_var.get() or (context.user_id if context is not None else None)


# Never let a credential reach a log line, whatever a caller passes in. Quoted JSON/Python values
# are matched up to their closing quote, so a password with spaces is hidden whole.
# A name ends in one of these words, optionally after a prefix such as `jwt_` or `VE_URL_SIGNING_`;
# the API's bodies spell tokens in camelCase (`accessToken`, `refreshToken`).
_SECRET_NAMES = (
    r"(?:[A-Za-z0-9]+[_-])*"
    r"(?:password|passwd|secret|refresh[_-]?token|access[_-]?token|id[_-]?token|token|api[_-]?key)"
)
_Replacement = str | Callable[[re.Match[str]], str]
_SECRET_PATTERNS: list[tuple[re.Pattern[str], _Replacement]] = [
    # Signed URL signatures: local (`signature=`), GCS V4 (`X-Goog-Signature=`), S3 (`X-Amz-Signature=`).
    (re.compile(r"((?:X-Goog-|X-Amz-)?signature=)[^&\s\"'#]+", re.I), r"\1[REDACTED]"),
    (
        re.compile(r"\b(authorization[\"']?\s*[:=]\s*[\"']?)(?:(bearer|basic|token)\s+)?[^\s\"',}]+", re.I),
        lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}[REDACTED]",
    ),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=\-]{12,}", re.I), r"\1[REDACTED]"),  # real tokens are long
    (
        re.compile(
            r"((?<![A-Za-z0-9_-])[\"']?(?:" + _SECRET_NAMES + r")[\"']?\s*[:=]\s*)\"(?:[^\"\\]|\\.)*\"", re.I
        ),
        r'\1"[REDACTED]"',
    ),
    (
        re.compile(
            r"((?<![A-Za-z0-9_-])[\"']?(?:" + _SECRET_NAMES + r")[\"']?\s*[:=]\s*)'(?:[^'\\]|\\.)*'", re.I
        ),
        r"\1'[REDACTED]'",
    ),
    (
        re.compile(r"((?<![A-Za-z0-9_-])(?:" + _SECRET_NAMES + r")\s*[:=]\s*)[^\"'&\s,}]+", re.I),
        r"\1[REDACTED]",
    ),
    # A JWT wherever it appears (three base64url parts, the first two starting with `{"`).
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"), "[REDACTED]"),
]
_SECRET_KEYS = {
    "password",
    "passwd",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authorization",
    "secret",
    "client_secret",
    "api_key",
    "signature",
    "x-goog-signature",
    "cookie",
    "set-cookie",
}


# Every pattern above needs one of these words: a text with none of them (nearly every log field)
# is returned after one search instead of seven substitutions.
_ANY_SECRET_HINT = re.compile(r"signature|authorization|bearer|passw|secret|token|api[_-]?key|eyJ", re.I)


def redact(text: str) -> str:
    if len(text) <= _CLEAN_TEXT_LENGTH and text in _clean_texts:
        return text
    if not _ANY_SECRET_HINT.search(text):
        if len(text) <= _CLEAN_TEXT_LENGTH and len(_clean_texts) < _CLEAN_TEXTS:
            _clean_texts.add(text)
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# Short texts found clean (methods, routes, paths, messages: the same few on every access log
# line) are not searched again. Only clean texts are kept, and at most this many.
_CLEAN_TEXT_LENGTH = 200
_CLEAN_TEXTS = 10_000
_clean_texts: set[str] = set()


def redact_value(value: Any) -> Any:
    """Redact a structured log field: secret keys at any depth, and secrets inside strings."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: "[REDACTED]" if str(key).lower() in _SECRET_KEYS else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


def _timestamp(created: float) -> str:
    """`created` as ISO 8601 in UTC to the millisecond; the part up to the second is kept while
    the second lasts (the lines of a busy second share it)."""
    second = int(created)
    global _last_second
    if _last_second[0] != second:
        _last_second = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_last_second[1]}.{int((created - second) * 1000):03d}+00:00"


_last_second: tuple[int, str] = (-1, "")


class JsonFormatter(logging.Formatter):
    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        ids = (
            ("request_id", request_id_var.get()),
            ("job_id", job_id_var.get()),
            ("user_id", current_user_id()),
        )
        for key, value in ids:
            if value is not None:
                entry[key] = value
        for key, value in vars(record).items():
            if key in self._STANDARD or key.startswith("_"):
                continue
            entry[key] = "[REDACTED]" if key.lower() in _SECRET_KEYS else redact_value(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpx2", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
