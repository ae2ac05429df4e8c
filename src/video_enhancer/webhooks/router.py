"""/webhooks: register receivers of the event log, see and retry their deliveries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from video_enhancer.api.deps import CurrentUser, SessionDep, SettingsDep
from video_enhancer.api.schemas import error_responses
from video_enhancer.models import WebhookDelivery, WebhookEndpoint
from video_enhancer.webhooks import service
from video_enhancer.webhooks.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut

router = APIRouter()

WebhookIdPath = Annotated[uuid.UUID, Path(alias="webhookId")]
DeliveryIdPath = Annotated[uuid.UUID, Path(alias="deliveryId")]


def _out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.event_types),
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
    )


def _created(endpoint: WebhookEndpoint) -> WebhookCreated:
    return WebhookCreated(**_out(endpoint).model_dump(), secret=endpoint.secret)


def _delivery(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event_type=delivery.event_type,
        event_id=delivery.event_seq,
        message_id=delivery.message_id,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    responses=error_responses(400, 401, 422),
    operation_id="createWebhook",
    summary="Register a webhook receiver; the signing secret is shown only here",
)
def create_webhook(
    body: WebhookIn, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> WebhookCreated:
    return _created(service.create_endpoint(session, user, body.url, body.events, settings))


@router.get("", response_model=list[WebhookOut], responses=error_responses(401), operation_id="listWebhooks")
def list_webhooks(session: SessionDep, user: CurrentUser) -> list[WebhookOut]:
    return [_out(endpoint) for endpoint in service.list_endpoints(session, user)]


@router.delete(
    "/{webhookId}", status_code=204, responses=error_responses(401, 404), operation_id="deleteWebhook"
)
def delete_webhook(webhook_id: WebhookIdPath, session: SessionDep, user: CurrentUser) -> Response:
    service.delete_endpoint(session, user, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhookId}/rotate-secret",
    response_model=WebhookCreated,
    responses=error_responses(401, 404),
    operation_id="rotateWebhookSecret",
    summary="Replace the signing secret; the new one is shown only here",
)
def rotate_secret(webhook_id: WebhookIdPath, session: SessionDep, user: CurrentUser) -> WebhookCreated:
    return _created(service.rotate_secret(session, user, webhook_id))


@router.post(
    "/{webhookId}/enable",
    response_model=WebhookOut,
    responses=error_responses(401, 404),
    operation_id="enableWebhook",
    summary="Enable an endpoint that was disabled after failing",
)
def enable_webhook(webhook_id: WebhookIdPath, session: SessionDep, user: CurrentUser) -> WebhookOut:
    return _out(service.enable_endpoint(session, user, webhook_id))


@router.get(
    "/{webhookId}/deliveries",
    response_model=list[DeliveryOut],
    responses=error_responses(401, 404),
    operation_id="listWebhookDeliveries",
    summary="Deliveries to this endpoint, newest first",
)
def list_deliveries(
    webhook_id: WebhookIdPath,
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeliveryOut]:
    return [_delivery(d) for d in service.list_deliveries(session, user, webhook_id, limit, offset)]


@router.post(
    "/{webhookId}/deliveries/{deliveryId}/retry",
    response_model=DeliveryOut,
    responses=error_responses(401, 404, 409),
    operation_id="retryWebhookDelivery",
    summary="Send a delivery again now",
)
def retry_delivery(
    webhook_id: WebhookIdPath, delivery_id: DeliveryIdPath, session: SessionDep, user: CurrentUser
) -> DeliveryOut:
    return _delivery(service.retry_delivery(session, user, webhook_id, delivery_id))


@router.post(
    "/{webhookId}/test",
    status_code=202,
    response_model=DeliveryOut,
    responses=error_responses(401, 404),
    operation_id="testWebhook",
    summary="Send a webhook.test event to the endpoint",
)
def test_webhook(webhook_id: WebhookIdPath, session: SessionDep, user: CurrentUser) -> DeliveryOut:
    return _delivery(service.send_test(session, user, webhook_id))
