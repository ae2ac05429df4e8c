"""Webhooks against a real local receiver: signatures, retries, SSRF, the README's receiver."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from events.conftest import queued_job_of
from helpers import register_user
from video_enhancer.config import Settings
from video_enhancer.events.service import append_job_event
from video_enhancer.models import EventType, Job, User, WebhookDelivery, WebhookEndpoint
from video_enhancer.webhooks import service, signing
from video_enhancer.webhooks.dispatcher import WebhookDispatcher

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Receiver:
    secret: str = ""
    fail_first: int = 0
    received: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@contextmanager
def receiver(fail_first: int = 0) -> Iterator[Receiver]:
    state = Receiver(fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.received.append((time.monotonic(), headers, body))
            if len(state.received) <= state.fail_first:
                self.send_response(500)
                self.end_headers()
                return
            state.verified.append(Webhook(state.secret).verify(body, headers))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/video"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def dispatching(factory: sessionmaker[Session], settings: Settings) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=WebhookDispatcher(factory, settings).run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _fast(settings: Settings, **overrides: Any) -> Settings:
    values = {"webhook_allow_private": True, "webhook_retry_scale": 0.01, "webhook_poll_seconds": 0.02}
    return settings.model_copy(update={**values, **overrides})


def _emit(factory: sessionmaker[Session], job_id: uuid.UUID, *types: EventType) -> None:
    for event_type in types:
        with factory.begin() as session:
            job = session.get(Job, job_id)
            assert job is not None
            append_job_event(session, event_type, job)


def _wait(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _client_for(client: TestClient, settings: Settings) -> None:
    client.app.state.settings = settings  # type: ignore[attr-defined]


def test_deliveries_are_signed_retried_on_schedule_and_all_arrive(
    client: TestClient, settings: Settings
) -> None:
    fast = _fast(settings)
    _client_for(client, fast)
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    email = f"hooks-{uuid.uuid4().hex[:8]}@example.com"
    headers = register_user(client, email)
    job_id = queued_job_of(factory, email)

    with receiver(fail_first=3) as hook:
        created = client.post(
            "/webhooks",
            json={"url": hook.url, "events": ["job.processing", "job.completed"]},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        hook.secret = created.json()["secret"]
        assert hook.secret.startswith("whsec_")
        assert "secret" not in client.get("/webhooks", headers=headers).json()[0]

        _emit(factory, job_id, EventType.JOB_PROCESSING, EventType.JOB_PROGRESS, EventType.JOB_COMPLETED)
        with dispatching(factory, fast):
            _wait(lambda: len(hook.verified) == 2)

    assert sorted(event["type"] for event in hook.verified) == ["job.completed", "job.processing"]
    assert {event["data"]["jobId"] for event in hook.verified} == {str(job_id)}
    ids = [h["webhook-id"] for _, h, _ in hook.received]
    assert all(webhook_id.startswith("msg_") for webhook_id in ids)
    assert len(set(ids)) == 2, "each event keeps one webhook-id across its attempts"
    # Both deliveries fail together, then retry after 5 s and 30 s (x 0.01, +-10 %).
    first_id = ids[0]
    times = [t for t, h, _ in hook.received if h["webhook-id"] == first_id]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, scheduled in zip(gaps, service.RETRY_SCHEDULE_SECONDS, strict=False):
        assert gap >= scheduled * 0.01 * 0.9

    deliveries = client.get(f"/webhooks/{created.json()['id']}/deliveries", headers=headers).json()
    assert {d["status"] for d in deliveries} == {"SUCCEEDED"}
    assert all(d["lastStatusCode"] == 204 for d in deliveries)
    assert sum(d["attempts"] for d in deliveries) == len(hook.received)


def test_a_delivery_fails_after_its_schedule_and_the_endpoint_is_disabled(
    client: TestClient, settings: Settings
) -> None:
    fast = _fast(settings, webhook_retry_scale=0.0001, webhook_disable_after_seconds=0)
    _client_for(client, fast)
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    email = f"hooks-{uuid.uuid4().hex[:8]}@example.com"
    headers = register_user(client, email)
    job_id = queued_job_of(factory, email)
    with receiver(fail_first=10_000) as hook:
        webhook = client.post(
            "/webhooks", json={"url": hook.url, "events": ["job.failed"]}, headers=headers
        ).json()
        _emit(factory, job_id, EventType.JOB_FAILED)
        with dispatching(factory, fast):
            _wait(lambda: not client.get("/webhooks", headers=headers).json()[0]["enabled"])
    listed = client.get("/webhooks", headers=headers).json()[0]
    assert "Disabled after failing" in listed["disabledReason"]
    assert "HTTP 500" in listed["disabledReason"]
    assert webhook["id"] == listed["id"]


def test_a_delivery_exhausts_its_schedule_then_is_failed_and_can_be_retried(
    client: TestClient, settings: Settings
) -> None:
    fast = _fast(settings, webhook_retry_scale=0.00001)
    _client_for(client, fast)
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    email = f"hooks-{uuid.uuid4().hex[:8]}@example.com"
    headers = register_user(client, email)
    job_id = queued_job_of(factory, email)
    with receiver(fail_first=service.MAX_ATTEMPTS) as hook:
        webhook = client.post(
            "/webhooks", json={"url": hook.url, "events": ["job.failed"]}, headers=headers
        ).json()
        hook.secret = webhook["secret"]
        _emit(factory, job_id, EventType.JOB_FAILED)
        with dispatching(factory, fast):
            _wait(lambda: len(hook.received) == service.MAX_ATTEMPTS)
            path = f"/webhooks/{webhook['id']}/deliveries"
            _wait(lambda: client.get(path, headers=headers).json()[0]["status"] == "FAILED")
            delivery = client.get(path, headers=headers).json()[0]
            assert delivery["attempts"] == service.MAX_ATTEMPTS
            retried = client.post(f"{path}/{delivery['id']}/retry", headers=headers)
            assert retried.status_code == 200 and retried.json()["status"] == "PENDING"
            _wait(lambda: len(hook.verified) == 1)
    assert hook.verified[0]["type"] == "job.failed"
    assert service.schedule_total_seconds() >= 24 * 3600


def test_test_event_and_secret_rotation(client: TestClient, settings: Settings) -> None:
    fast = _fast(settings)
    _client_for(client, fast)
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    headers = register_user(client, f"hooks-{uuid.uuid4().hex[:8]}@example.com")
    with receiver() as hook:
        webhook = client.post(
            "/webhooks", json={"url": hook.url, "events": ["job.completed"]}, headers=headers
        ).json()
        rotated = client.post(f"/webhooks/{webhook['id']}/rotate-secret", headers=headers).json()
        assert rotated["secret"] != webhook["secret"]
        hook.secret = rotated["secret"]
        assert client.post(f"/webhooks/{webhook['id']}/test", headers=headers).status_code == 202
        with dispatching(factory, fast):
            _wait(lambda: len(hook.verified) == 1)
    assert hook.verified[0]["type"] == "webhook.test"


def test_other_users_webhooks_are_404(client: TestClient, settings: Settings) -> None:
    _client_for(client, _fast(settings))
    owner = register_user(client, f"hooks-{uuid.uuid4().hex[:8]}@example.com")
    other = register_user(client, f"hooks-{uuid.uuid4().hex[:8]}@example.com")
    webhook = client.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["job.completed"]}, headers=owner
    ).json()
    for method, path in [
        ("delete", f"/webhooks/{webhook['id']}"),
        ("post", f"/webhooks/{webhook['id']}/rotate-secret"),
        ("get", f"/webhooks/{webhook['id']}/deliveries"),
        ("post", f"/webhooks/{webhook['id']}/test"),
    ]:
        assert getattr(client, method)(path, headers=other).status_code == 404
    assert client.get("/webhooks", headers=other).json() == []
    assert client.delete(f"/webhooks/{webhook['id']}", headers=owner).status_code == 204


INTERNAL_URLS = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/hook",
    "http://169.254.169.254/computeMetadata/v1/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://localhost/hook",  # a name that resolves to an internal address
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_registration_refuses_internal_addresses(client: TestClient, url: str) -> None:
    headers = register_user(client, f"ssrf-{uuid.uuid4().hex[:8]}@example.com")
    response = client.post("/webhooks", json={"url": url, "events": ["job.completed"]}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_WEBHOOK_URL"


def test_production_requires_https_and_refuses_the_private_switch(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production"})
    with pytest.raises(Exception, match="https"):
        service.check_url("http://example.com/hook", production)
    with pytest.raises(ValueError, match="development and tests only"):
        Settings(
            env="production", jwt_secret="x" * 40, url_signing_secret="y" * 40, webhook_allow_private=True
        )


def test_delivery_refuses_an_address_that_became_internal(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """A row whose host now resolves inside (DNS rebinding) is refused at delivery, not sent."""
    with receiver() as hook, session_factory.begin() as session:
        user = User(email=f"rebind-{uuid.uuid4().hex[:8]}@example.com", password_hash="not-a-real-hash")
        session.add(user)
        session.flush()
        endpoint = WebhookEndpoint(
            user_id=user.id,
            url=hook.url.replace("127.0.0.1", "localhost"),
            event_types=["webhook.test"],
            secret=signing.new_secret(),
        )
        session.add(endpoint)
        session.flush()
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                message_id="msg_rebind",
                event_type="webhook.test",
                payload="{}",
                next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
            )
        )
    with receiver() as hook:
        dispatcher = WebhookDispatcher(
            session_factory, settings.model_copy(update={"webhook_allow_private": False})
        )
        assert dispatcher.run_once() == 1
        assert hook.received == []
    with session_factory() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
    assert delivery.status.value == "PENDING" and delivery.attempts == 1
    assert "internal address" in (delivery.last_error or "")


def _readme_receiver(secret: str) -> Any:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- webhook-receiver -->\s*```python\n(.*?)```", readme, re.S)
    assert block, "README has no webhook receiver example"
    namespace: dict[str, Any] = {}
    exec(block.group(1).replace('"whsec_..."', repr(secret)), namespace)
    return namespace["receive"]


def test_the_readme_receiver_accepts_ours_and_refuses_forgeries() -> None:
    secret, wrong = signing.new_secret(), signing.new_secret()
    receive = _readme_receiver(secret)
    body = json.dumps({"id": 7, "type": "job.completed", "timestamp": "2026-01-01T00:00:00Z", "data": {}})
    now = int(time.time())
    good = signing.headers(secret, "msg_1", now, body)
    assert receive(body.encode(), good)["id"] == 7

    forged = {**good, "webhook-signature": "v1," + "A" * 44}
    tampered_body = body.replace("completed", "failed").encode()
    old = signing.headers(secret, "msg_1", now - 3600, body)
    wrong_secret = signing.headers(wrong, "msg_1", now, body)
    for body_bytes, headers in [
        (body.encode(), forged),
        (tampered_body, good),
        (body.encode(), old),
        (body.encode(), wrong_secret),
    ]:
        assert receive(body_bytes, headers) is None
