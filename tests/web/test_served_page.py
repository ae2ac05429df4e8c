"""The page, its files and the API docs are served by the API itself, under a strict CSP."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from helpers import register_user
from video_enhancer.config import Settings
from video_enhancer.web import STATIC_DIR, content_security_policy
from video_helpers import put_upload, ticket

# Any other origin; the SVG namespace and the webhook form's placeholder are not fetched.
ELSEWHERE = r"https?://(?!example\.com|www\.w3\.org/2000/svg)"


def test_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    script = client.get("/static/js/main.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["content-security-policy"] == policy


def test_page_has_no_inline_script_or_style_and_nothing_from_elsewhere() -> None:
    for path in STATIC_DIR.rglob("*"):
        if path.suffix not in {".html", ".js", ".css"}:
            continue
        text = path.read_text()
        assert not re.search(ELSEWHERE, text), path
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
            assert "<style" not in text and " style=" not in text, path
        if path.suffix == ".js":
            assert ".innerHTML" not in text and 'setAttribute("style"' not in text, path


def test_every_module_the_page_imports_is_served(client: TestClient) -> None:
    for path in (STATIC_DIR / "js").rglob("*.js"):
        relative = path.relative_to(STATIC_DIR).as_posix()
        assert client.get(f"/static/{relative}").status_code == 200, relative
        for imported in re.findall(r'from "(\.[^"]+)"', path.read_text()):
            assert (path.parent / imported).resolve().is_file(), (relative, imported)


def test_docs_load_swagger_ui_from_the_api_not_a_cdn(client: TestClient) -> None:
    docs = client.get("/docs").text
    assert "cdn.jsdelivr.net" not in docs and "/docs-assets/swagger-ui-bundle.js" in docs
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not served


def test_policy_allows_the_storage_that_signed_urls_point_at(settings: Settings) -> None:
    local = content_security_policy(
        settings.model_copy(update={"public_base_url": "http://192.168.1.5:8000/"})
    )
    assert "connect-src 'self' http://192.168.1.5:8000;" in local
    gcs = content_security_policy(settings.model_copy(update={"storage": "gcs", "gcs_endpoint": None}))
    assert "https://storage.googleapis.com" in gcs.split("connect-src")[1]
    # Posters (thumbnailUrl) are images at the same signed origins.
    assert "https://storage.googleapis.com" in gcs.split("img-src")[1].split(";")[0]
    assert "img-src 'self' data: blob: http://192.168.1.5:8000;" in local


def test_video_detail_has_a_signed_url_of_the_original_once_uploaded(client: TestClient) -> None:
    headers = register_user(client, "source-url@example.com")
    upload = ticket(client, headers, sizeBytes=4)
    path = f"/videos/{upload['videoId']}"
    assert client.get(path, headers=headers).json()["sourceUrl"] is None
    assert put_upload(client, upload, b"abcd").status_code == 200
    source_url = client.get(path, headers=headers).json()["sourceUrl"]
    assert source_url and "area=raw" in source_url
    assert client.get(source_url.split("testserver")[-1]).content == b"abcd"
