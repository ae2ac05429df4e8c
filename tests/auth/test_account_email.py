"""Email verification and password reset, end to end through a real SMTP server (aiosmtpd).

The tests read the mail the server received and follow its link, as a person would."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update

from helpers import DEFAULT_PASSWORD, login_tokens, register_user, session_factory_of
from video_enhancer.auth.email_tokens import hash_email_token
from video_enhancer.auth.mail import (
    LogMailSender,
    SmtpMailSender,
    deliver_pending,
    make_mail_sender,
    run_mail_sender,
)
from video_enhancer.config import Settings
from video_enhancer.models import EmailToken, MailMessage, RefreshToken, User, utcnow

EMAIL = "ana@example.com"
_LINK = re.compile(r"https?://\S+/(verify-email|reset-password)/([A-Za-z0-9_-]+)")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[str, _Inbox]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}", inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings: Settings, smtp: tuple[str, _Inbox]) -> Settings:
    return settings.model_copy(
        update={"smtp_url": SecretStr(smtp[0]), "mail_from": "VE <no-reply@example.com>"}
    )


def _deliver(client: TestClient, smtp_settings: Settings) -> int:
    sender = make_mail_sender(smtp_settings)
    assert isinstance(sender, SmtpMailSender)
    return deliver_pending(session_factory_of(client), sender, smtp_settings)


def _follow(message: EmailMessage) -> tuple[str, str]:
    match = _LINK.search(message.get_content())
    assert match is not None, message.get_content()
    return match.group(1), match.group(2)


def test_verifying_an_email_by_following_the_mailed_link(
    client: TestClient, smtp_settings: Settings, smtp: tuple[str, _Inbox]
) -> None:
    headers = register_user(client, EMAIL)
    assert client.get("/users/me", headers=headers).json()["emailVerified"] is False
    assert client.post("/auth/verify-email/request", headers=headers).status_code == 202
    assert _deliver(client, smtp_settings) == 1
    (mail,) = smtp[1].messages
    assert mail["To"] == EMAIL and mail["From"] == "VE <no-reply@example.com>"
    kind, token = _follow(mail)
    assert kind == "verify-email"
    with session_factory_of(client).begin() as session:
        stored = session.scalars(select(EmailToken)).one()
        assert stored.token_hash == hash_email_token(token) and token not in stored.token_hash
        sent = session.scalars(select(MailMessage)).one()
        assert sent.sent_at is not None and sent.body == ""  # the link no longer sits in the database

    verified = client.post("/auth/verify-email", json={"token": token})
    assert verified.status_code == 200 and verified.json() == {"emailVerified": True}
    assert client.get("/users/me", headers=headers).json()["emailVerified"] is True
    again = client.post("/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["error"]["code"] == "INVALID_EMAIL_TOKEN"
    already = client.post("/auth/verify-email/request", headers=headers)
    assert already.status_code == 409 and already.json()["error"]["code"] == "EMAIL_ALREADY_VERIFIED"


def test_an_expired_or_foreign_token_does_not_verify(
    client: TestClient, smtp_settings: Settings, smtp: tuple[str, _Inbox]
) -> None:
    headers = register_user(client, EMAIL)
    client.post("/auth/verify-email/request", headers=headers)
    client.post("/auth/password-reset/request", json={"email": EMAIL})
    assert _deliver(client, smtp_settings) == 2
    tokens = dict(_follow(message) for message in smtp[1].messages)
    wrong_purpose = client.post("/auth/verify-email", json={"token": tokens["reset-password"]})
    assert wrong_purpose.status_code == 400
    with session_factory_of(client).begin() as session:
        session.execute(update(EmailToken).values(expires_at=utcnow()))
    expired = client.post("/auth/verify-email", json={"token": tokens["verify-email"]})
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "INVALID_EMAIL_TOKEN"
    assert client.post("/auth/verify-email", json={"token": "not-a-token"}).status_code == 400


def test_resetting_a_password_signs_out_every_device(
    client: TestClient, smtp_settings: Settings, smtp: tuple[str, _Inbox]
) -> None:
    register_user(client, EMAIL)
    login_tokens(client, EMAIL)  # another device
    unknown = client.post("/auth/password-reset/request", json={"email": "nobody@example.com"})
    known = client.post("/auth/password-reset/request", json={"email": "  Ana@Example.com "})
    assert unknown.status_code == known.status_code == 202
    assert unknown.content == known.content == b""
    assert _deliver(client, smtp_settings) == 1  # only the account that exists gets a mail
    kind, token = _follow(smtp[1].messages[0])
    assert kind == "reset-password"

    new_password = "a brand new passphrase"
    done = client.post("/auth/password-reset", json={"token": token, "newPassword": new_password})
    assert done.status_code == 204, done.text
    with session_factory_of(client).begin() as session:
        user = session.scalars(select(User).where(User.email == EMAIL)).one()
        assert user.email_verified_at is not None  # reading the mail proved the address
        refresh = session.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id)).all()
        assert len(refresh) == 2 and all(row.revoked_at is not None for row in refresh)
    old = client.post("/auth/login", json={"email": EMAIL, "password": DEFAULT_PASSWORD})
    assert old.status_code == 401
    login_tokens(client, EMAIL, new_password)  # asserts the login succeeds
    reused = client.post("/auth/password-reset", json={"token": token, "newPassword": "yet another one!"})
    assert reused.status_code == 400 and reused.json()["error"]["code"] == "INVALID_EMAIL_TOKEN"


def test_a_short_new_password_is_refused(client: TestClient) -> None:
    response = client.post("/auth/password-reset", json={"token": "x", "newPassword": "short"})
    assert response.status_code == 422


def test_reset_requests_are_rate_limited_for_known_and_unknown_emails(client: TestClient) -> None:
    register_user(client, EMAIL)
    for email in (EMAIL, "ghost@example.com"):
        answers = [client.post("/auth/password-reset/request", json={"email": email}) for _ in range(4)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        assert int(answers[-1].headers["Retry-After"]) > 0
        assert answers[-1].json()["error"]["code"] == "RATE_LIMITED"


def test_verification_mails_are_rate_limited(client: TestClient) -> None:
    headers = register_user(client, EMAIL)
    answers = [client.post("/auth/verify-email/request", headers=headers).status_code for _ in range(4)]
    assert answers == [202, 202, 202, 429]


def test_the_smtp_password_never_shows(settings: Settings) -> None:
    sender = SmtpMailSender.from_url("smtps://mailer:s3cr%2Ft@smtp.example.com")
    assert (sender.host, sender.port, sender.implicit_tls) == ("smtp.example.com", 465, True)
    assert sender.password == "s3cr/t" and "s3cr" not in repr(sender)
    with pytest.raises(ValueError):
        SmtpMailSender.from_url("http://smtp.example.com")


def test_the_worker_loop_delivers_the_outbox(
    client: TestClient, smtp_settings: Settings, smtp: tuple[str, _Inbox]
) -> None:
    headers = register_user(client, EMAIL)
    client.post("/auth/verify-email/request", headers=headers)
    stop = threading.Event()
    fast = smtp_settings.model_copy(update={"mail_poll_seconds": 0.05})
    thread = threading.Thread(target=run_mail_sender, args=(session_factory_of(client), fast, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not smtp[1].messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert len(smtp[1].messages) == 1


def test_an_unreachable_server_is_retried_later(client: TestClient, settings: Settings) -> None:
    headers = register_user(client, EMAIL)
    client.post("/auth/verify-email/request", headers=headers)
    down = settings.model_copy(update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{_free_port()}")})
    assert _deliver(client, down) == 0
    with session_factory_of(client).begin() as session:
        row = session.scalars(select(MailMessage)).one()
        assert row.sent_at is None and row.attempts == 1 and row.last_error
        assert row.next_attempt_at > utcnow() and row.body  # kept for the next attempt


def test_development_writes_the_mail_to_the_log(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    assert make_mail_sender(settings.model_copy(update={"env": "production"})) is None
    sender = make_mail_sender(settings.model_copy(update={"env": "development"}))
    assert isinstance(sender, LogMailSender)
    message = EmailMessage()
    message["To"], message["Subject"] = EMAIL, "Confirm"
    message.set_content("open http://app.example/verify-email/abc123")
    with caplog.at_level(logging.INFO, logger="video_enhancer.auth.mail"):
        sender.send(message)
    (record,) = caplog.records
    assert "verify-email/abc123" in record.body  # type: ignore[attr-defined]
