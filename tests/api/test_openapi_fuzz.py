"""Schema-based fuzzing of every documented route: no 5xx, and every response matches the document.

Schemathesis generates requests from the app's own OpenAPI document, valid ones and invalid ones,
and runs its checks (server errors, status codes, content types, headers and bodies against the
declared schemas, invalid data rejected). Requests
carry a real user's token, and that user owns a video, so the authenticated paths are exercised.
Examples per operation are bounded and derandomized so the run is short and repeatable.

One check is left out: `positive_data_acceptance` expects every schema-valid request to succeed,
but some business rules are deliberately not schema rules: an upload's content type outside the
supported list is a documented 400 UNSUPPORTED_MEDIA_TYPE (not a 422), and an email address on a
special-use domain (`.test`) is schema-valid yet refused by the address validator.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from video_enhancer.models import Plan
from video_helpers import new_user, ticket

MAX_EXAMPLES = 12
# Invalid requests are generated for these routes; the others get valid ones only, until a body
# that is not JSON at all (FastAPI's 400 "error parsing the body") is documented or mapped to 422.
NEGATIVE_FUZZ_PREFIXES = ("/videos", "/jobs", "/storage")


def _fuzz_operation(operation: Any, headers: dict[str, str], mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    run()


def test_every_route_conforms_to_the_openapi_document(app: FastAPI, client: TestClient) -> None:
    headers = new_user(client, Plan.PRO)
    ticket(client, headers)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    failures: list[str] = []
    for operation in operations:
        modes = [GenerationMode.POSITIVE]
        if operation.path.startswith(NEGATIVE_FUZZ_PREFIXES):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                _fuzz_operation(operation, headers, mode)
            except (Exception, BaseExceptionGroup) as exc:  # collect every failing route, not just the first
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
