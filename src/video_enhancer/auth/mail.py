"""Mail: an outbox table written in the request's transaction, and a sender that delivers it.

A request never talks to an SMTP server: it adds a `MailMessage` row, which commits (or not)
with the change that caused it. The sender loop (in the worker process, so also under
`video-enhancer run`) claims one due row at a time with a short lease, sends it outside any
transaction, then marks it sent and blanks its body (a body may hold a single-use link).
Delivery is at least once: a sender that dies between sending and marking sends again after
the lease. Failures back off exponentially up to `VE_MAIL_MAX_ATTEMPTS`.

`VE_SMTP_URL` selects SMTP (stdlib `smtplib`). Without it, development and test installs write
each mail to the log (link included, so a developer can follow it); production sends nothing
and says so once, leaving the mail in the outbox.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.models import MailMessage, utcnow

logger = logging.getLogger(__name__)

SEND_LEASE = timedelta(minutes=2)  # a claimed mail is not claimed again before this
SMTP_TIMEOUT_SECONDS = 20.0
_MAX_BACKOFF = timedelta(hours=1)


def queue_mail(session: Session, *, to: str, subject: str, body: str, user_id: uuid.UUID | None) -> None:
    session.add(MailMessage(user_id=user_id, to_address=to, subject=subject, body=body))
    session.flush()


class MailSender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpMailSender:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line or traceback

    @classmethod
    def from_url(cls, url: str) -> SmtpMailSender:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("VE_SMTP_URL must look like smtp://host:port or smtps://host:port")
        implicit = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def send(self, message: EmailMessage) -> None:
        with self._connect() as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        return smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)


class LogMailSender:
    """Development only: the mail goes to the log, its link readable so it can be followed."""

    def send(self, message: EmailMessage) -> None:
        logger.info(
            "mail (development: written to the log, not sent)",
            extra={"to": message["To"], "subject": message["Subject"], "body": message.get_content()},
        )


def make_mail_sender(settings: Settings) -> MailSender | None:
    if settings.smtp_url is not None:
        return SmtpMailSender.from_url(settings.smtp_url.get_secret_value())
    if settings.env in ("development", "test"):
        return LogMailSender()
    return None


def build_message(row: MailMessage, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message.set_content(row.body)
    return message


# Delivering the outbox


def deliver_pending(
    factory: sessionmaker[Session], sender: MailSender, settings: Settings, limit: int = 50
) -> int:
    """Send due mails, one claim at a time, until none is due or `limit` are done; returns how
    many were sent."""
    sent = 0
    for _ in range(limit):
        claimed = _claim_next(factory, utcnow())
        if claimed is None:
            break
        row_id, message = claimed[0], build_message(claimed[1], settings.mail_from)
        try:
            sender.send(message)
        except Exception as exc:  # any failure of the transport: retried later, never raised
            _record_failure(factory, row_id, exc, settings.mail_max_attempts)
            continue
        _mark_sent(factory, row_id)
        sent += 1
    return sent


def _claim_next(factory: sessionmaker[Session], now: datetime) -> tuple[int, MailMessage] | None:
    with session_scope(factory) as session:
        query = (
            select(MailMessage)
            .where(
                MailMessage.sent_at.is_(None),
                MailMessage.failed_at.is_(None),
                MailMessage.next_attempt_at <= now,
            )
            .order_by(MailMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        row = session.scalar(query)
        if row is None:
            return None
        row.attempts += 1
        row.next_attempt_at = now + SEND_LEASE
        session.flush()
        session.expunge(row)
        return row.id, row


def _mark_sent(factory: sessionmaker[Session], row_id: int) -> None:
    with session_scope(factory) as session:
        row = session.get(MailMessage, row_id)
        if row is not None:
            row.sent_at = utcnow()
            row.body = ""  # it may hold a single-use link; the mailbox has it now
            row.last_error = None


def _record_failure(factory: sessionmaker[Session], row_id: int, exc: Exception, max_attempts: int) -> None:
    # The class name only: an SMTP error message can echo the recipient and server details.
    reason = type(exc).__name__
    with session_scope(factory) as session:
        row = session.get(MailMessage, row_id)
        if row is None:
            return
        row.last_error = reason
        now = utcnow()
        if row.attempts >= max_attempts:
            row.failed_at = now
            row.body = ""
        else:
            row.next_attempt_at = now + min(_MAX_BACKOFF, timedelta(seconds=30 * 2 ** (row.attempts - 1)))
    logger.warning("mail delivery failed", extra={"mail_id": row_id, "reason": reason})


def run_mail_sender(
    factory: sessionmaker[Session],
    settings: Settings,
    stop: threading.Event,
    sender_factory: Callable[[Settings], MailSender | None] = make_mail_sender,
) -> None:
    """Deliver the outbox every `VE_MAIL_POLL_SECONDS` until `stop` is set."""
    sender = sender_factory(settings)
    if sender is None:
        logger.warning("VE_SMTP_URL is not set: mail stays in the outbox until it is")
        return
    while not stop.is_set():
        try:
            deliver_pending(factory, sender, settings)
        except Exception:
            logger.exception("mail sender pass failed")
        stop.wait(settings.mail_poll_seconds)
