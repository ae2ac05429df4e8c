"""openapi-generator makes a Dart (dart-dio) client from the app's OpenAPI document, unedited.

The generator's jar comes with the `openapi-generator-cli` package of the dev extra and runs on
Java 11 or later. No Dart SDK is installed here, so the generated code is inspected rather than
compiled: one method per operationId and typed enums. `enumUnknownDefaultCase` gives every enum
an unknown case, so an app built today still parses a status or error code added later.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import openapi_generator_cli
import pytest

from video_enhancer.app import create_app
from video_enhancer.config import Settings

JAR = Path(openapi_generator_cli.__file__).parent / "openapi-generator.jar"
OPTIONS = "pubName=video_enhancer_client,enumUnknownDefaultCase=true"


def _generate(spec: Path, out: Path) -> subprocess.CompletedProcess[str]:
    java = shutil.which("java")
    if java is None:
        pytest.skip("Java is not installed (openapi-generator needs Java 11 or later)")
    argv = [java, "-jar", str(JAR), "generate", "-g", "dart-dio", "-i", str(spec), "-o", str(out)]
    argv += ["--additional-properties", OPTIONS]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_dart_dio_client_generates_from_the_document_as_served(tmp_path: Path) -> None:
    settings = Settings(env="test", database_url=f"sqlite:///{tmp_path}/db.sqlite", storage_root=tmp_path)
    document = create_app(settings).openapi()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))

    result = _generate(spec, tmp_path / "dart")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert " ERROR " not in result.stdout

    lib = tmp_path / "dart" / "lib" / "src"
    methods = set()
    for api in (lib / "api").glob("*_api.dart"):
        methods |= set(re.findall(r"Future<Response<[^\n]*>> (\w+)\(", api.read_text()))
    operations = [*document["paths"].values(), *document.get("webhooks", {}).values()]
    operation_ids = {op["operationId"] for item in operations for op in item.values()}
    assert methods == operation_ids

    job = (lib / "model" / "job_out.dart").read_text()
    for typed in ("JobStatus get status;", "JobStage? get stage;", "EnhancerName? get enhancer;"):
        assert typed in job
    error_codes = (lib / "model" / "error_code.dart").read_text()
    assert "static const ErrorCode QUOTA_EXCEEDED" in error_codes and "unknownDefaultOpenApi" in error_codes
    assert "String get accessToken;" in (lib / "model" / "token_response.dart").read_text()
