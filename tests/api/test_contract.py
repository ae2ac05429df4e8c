"""The API contract that generated clients rely on: operationIds, one casing, enums and errors.

The document checks read the OpenAPI document of a real app; the request checks send camelCase
and snake_case bodies to the real endpoints.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import video_enhancer
from helpers import login_tokens, register_user
from video_enhancer.api.schemas import ErrorCode
from video_enhancer.app import _HTTP_CODES, create_app
from video_enhancer.config import Settings
from video_enhancer.enhancers import ENHANCERS
from video_enhancer.errors import AppError
from video_enhancer.models import JobStage, JobStatus

OPERATIONS = {
    ("post", "/auth/register"): "register",
    ("post", "/auth/login"): "login",
    ("post", "/auth/refresh"): "refreshTokens",
    ("post", "/auth/logout"): "logout",
    ("get", "/users/me"): "getMe",
    ("post", "/videos/upload"): "createUpload",
    ("post", "/videos/{videoId}/complete"): "completeUpload",
    ("post", "/videos/{videoId}/jobs"): "startVideoJob",
    ("post", "/videos/{videoId}/preview"): "requestPreview",
    ("get", "/videos"): "listVideos",
    ("get", "/videos/{videoId}"): "getVideo",
    ("delete", "/videos/{videoId}"): "deleteVideo",
    ("get", "/jobs"): "listJobs",
    ("get", "/jobs/{jobId}"): "getJob",
    ("post", "/jobs/{jobId}/cancel"): "cancelJob",
    ("put", "/storage/upload"): "uploadObject",
    ("get", "/storage/download"): "downloadObject",
    ("head", "/storage/download"): "headObject",
    ("get", "/admin/stats"): "getAdminStats",
    ("post", "/auth/verify-email/request"): "requestEmailVerification",
    ("post", "/auth/verify-email"): "verifyEmail",
    ("post", "/auth/password-reset/request"): "requestPasswordReset",
    ("post", "/auth/password-reset"): "resetPassword",
    ("delete", "/users/me"): "deleteMe",
    ("post", "/videos/{videoId}/upload-url"): "renewUploadUrl",
    ("put", "/storage/upload/resumable"): "uploadObjectPiece",
    ("post", "/events/token"): "createStreamToken",
    ("get", "/events"): "streamEvents",
    ("get", "/jobs/{jobId}/events"): "streamJobEvents",
    ("post", "/webhooks"): "createWebhook",
    ("get", "/webhooks"): "listWebhooks",
    ("delete", "/webhooks/{webhookId}"): "deleteWebhook",
    ("post", "/webhooks/{webhookId}/rotate-secret"): "rotateWebhookSecret",
    ("post", "/webhooks/{webhookId}/enable"): "enableWebhook",
    ("get", "/webhooks/{webhookId}/deliveries"): "listWebhookDeliveries",
    ("post", "/webhooks/{webhookId}/deliveries/{deliveryId}/retry"): "retryWebhookDelivery",
    ("post", "/webhooks/{webhookId}/test"): "testWebhook",
    ("get", "/users/me/usage"): "getMyUsage",
    ("get", "/enhancers"): "listEnhancers",
    ("post", "/batches"): "createBatch",
    ("get", "/batches"): "listBatches",
    ("get", "/batches/{batchId}"): "getBatch",
    ("get", "/batches/{batchId}/download"): "downloadBatch",
}
AUTHENTICATED = {
    "getMe",
    "createUpload",
    "completeUpload",
    "startVideoJob",
    "listVideos",
    "getVideo",
    "deleteVideo",
}
AUTHENTICATED |= {"listJobs", "getJob", "cancelJob", "getAdminStats"}
OWNED = {"completeUpload", "getVideo", "deleteVideo", "getJob", "cancelJob", "getAdminStats"}
OWNED |= {"startVideoJob", "requestPreview"}
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
ERROR_REF = "#/components/schemas/ErrorResponse"
# Errors of the worker's pipeline: recorded on a failed job (`errorCode`), never an API response.
WORKER_ONLY_MODULES = ("video_enhancer.media", "video_enhancer.enhancers", "video_enhancer.worker")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("contract")
    settings = Settings(env="test", database_url=f"sqlite:///{root}/db.sqlite", storage_root=root / "storage")
    spec: dict[str, Any] = create_app(settings).openapi()
    return spec


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, item in document["paths"].items() for method, op in item.items()}


def test_every_route_has_its_explicit_operation_id(document: dict[str, Any]) -> None:
    ids = {key: op["operationId"] for key, op in _operations(document).items()}
    assert ids == OPERATIONS


def test_every_name_on_the_wire_is_camel_case(document: dict[str, Any]) -> None:
    for name, schema in document["components"]["schemas"].items():
        for field in schema.get("properties", {}):
            assert CAMEL.match(field), f"{name}.{field}"
    for (method, path), op in _operations(document).items():
        for parameter in op.get("parameters", []):
            if parameter["in"] == "header":  # HTTP's own names (Last-Event-ID)
                continue
            assert CAMEL.match(parameter["name"]), f"{method} {path}: {parameter['name']}"


def _ref(schema: dict[str, Any]) -> str | None:
    options = schema.get("anyOf", [schema])
    return next((option["$ref"] for option in options if "$ref" in option), None)


def test_enums_are_named_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["JobStatus"]["enum"] == [status.value for status in JobStatus]
    assert schemas["JobStage"]["enum"] == [stage.value for stage in JobStage]
    assert set(schemas["EnhancerName"]["enum"]) == set(ENHANCERS)
    assert schemas["ErrorCode"]["enum"] == [code.value for code in ErrorCode]
    job = schemas["JobOut"]["properties"]
    assert _ref(job["status"]) == "#/components/schemas/JobStatus"
    assert _ref(job["stage"]) == "#/components/schemas/JobStage"
    assert _ref(job["enhancer"]) == "#/components/schemas/EnhancerName"
    assert _ref(schemas["ErrorBody"]["properties"]["code"]) == "#/components/schemas/ErrorCode"


def _served_error_classes() -> list[type[AppError]]:
    for module in pkgutil.walk_packages(video_enhancer.__path__, "video_enhancer."):
        if not module.name.startswith(WORKER_ONLY_MODULES) and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, pending = [], [AppError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [cls for cls in found if not cls.__module__.startswith(WORKER_ONLY_MODULES)]


def test_error_code_enum_lists_every_code_the_api_answers_with() -> None:
    served = {cls.default_code for cls in _served_error_classes()}
    served |= set(_HTTP_CODES.values()) | {"VALIDATION_ERROR", "INTERNAL_ERROR", "HTTP_ERROR"}
    assert served <= set(ErrorCode), sorted(served - set(ErrorCode))
    assert len(served) > 20  # the walk found the domains' errors, not only the base classes


def test_every_operation_documents_its_errors_with_the_error_schema(document: dict[str, Any]) -> None:
    for key, op in _operations(document).items():
        statuses = {int(status) for status in op["responses"]}
        expected = {422, 500}
        expected |= {401} if op["operationId"] in AUTHENTICATED else set()
        expected |= {404} if op["operationId"] in OWNED else set()
        assert expected <= statuses, (key, sorted(statuses))
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, (key, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_statuses_where_they_apply(document: dict[str, Any]) -> None:
    ops = {op["operationId"]: {int(s) for s in op["responses"]} for op in _operations(document).values()}
    assert {409} <= ops["register"] and {401, 429} <= ops["login"] and {401} <= ops["refreshTokens"]
    assert {400, 403, 413, 503} <= ops["createUpload"]
    assert {409, 503} <= ops["completeUpload"] and {409} <= ops["cancelJob"]
    assert {403, 413} <= ops["uploadObject"] and {206, 416} <= ops["downloadObject"]


def test_login_and_refresh_speak_camel_case(client: TestClient) -> None:
    register_user(client, "camel@example.com")
    tokens = login_tokens(client, "camel@example.com")
    assert set(tokens) == {"accessToken", "tokenType", "expiresIn", "refreshToken"}
    rotated = client.post("/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert rotated.status_code == 200 and "accessToken" in rotated.json()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/refresh", {"refresh_token": "whatever"}, "refreshToken"),
        ("/auth/logout", {"refresh_token": "whatever"}, "refreshToken"),
        (
            "/videos/upload",
            {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10, "duration_seconds": 3},
            "contentType",
        ),
    ],
)
def test_snake_case_request_bodies_are_refused(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    headers = register_user(client, "snake@example.com")
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["message"]


def test_the_documented_names_are_the_ones_the_readme_uses() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "access_token" not in readme and "minutes_remaining" not in readme
    assert "field accessToken" in readme
