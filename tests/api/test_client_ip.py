"""The client address behind proxies: only configured hops are believed (`VE_TRUSTED_PROXIES`).

The live test serves the API the way the shipped image does (`video-enhancer serve` with the
image's environment) and plays a client that prepends addresses to `X-Forwarded-For` to dodge
the per-IP login limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.live_server import CLI_SERVE, live_server
from video_enhancer.api.client_ip import TrustedProxyMiddleware, client_address, parse_networks
from video_enhancer.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PROXY = "127.0.0.1"  # the test client plays the load balancer in front of the API
CLIENT = "203.0.113.7"
IP_ATTEMPTS = 3


def _image_environment(dockerfile: Path) -> dict[str, str]:
    """The `ENV NAME=value` settings of a Dockerfile that are not the app's own `VE_*`."""
    text = dockerfile.read_text().replace("\\\n", " ")
    pairs = re.findall(r'([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)', " ".join(re.findall(r"^ENV (.*)$", text, re.M)))
    return {name: value.strip('"') for name, value in pairs if not name.startswith("VE_")}


@pytest.fixture(scope="module")
def api_behind_proxy(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    env = {
        **_image_environment(ROOT / "deploy" / "Dockerfile.api"),
        "VE_TRUSTED_PROXIES": PROXY,
        "VE_LOGIN_RATE_LIMIT_ATTEMPTS": "0",  # the per-email limit would hide the per-IP one
        "VE_LOGIN_RATE_LIMIT_IP_ATTEMPTS": str(IP_ATTEMPTS),
    }
    with live_server(tmp_path_factory.mktemp("proxy"), sqlite_template, CLI_SERVE, env) as base:
        yield base


def test_prepending_addresses_does_not_escape_the_per_ip_login_limit(api_behind_proxy: str) -> None:
    statuses = []
    with httpx.Client(base_url=api_behind_proxy, timeout=30) as client:
        for attempt in range(IP_ATTEMPTS + 2):
            spoofed = f"198.51.100.{attempt + 1}, {CLIENT}"
            body = {"email": f"guess{attempt}@example.com", "password": "wrong password"}
            response = client.post("/auth/login", json=body, headers={"X-Forwarded-For": spoofed})
            statuses.append(response.status_code)
    assert statuses == [401] * IP_ATTEMPTS + [429, 429]


def test_the_image_does_not_trust_every_forwarded_header() -> None:
    assert _image_environment(ROOT / "deploy" / "Dockerfile.api").get("FORWARDED_ALLOW_IPS") != "*"


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.7", ["1.2.3.4"], "203.0.113.7"),  # not from a proxy: headers ignored
        ("10.0.0.1", ["1.2.3.4, 203.0.113.7"], "203.0.113.7"),  # right-most untrusted
        ("10.0.0.1", ["1.2.3.4, 203.0.113.7, 35.191.4.5"], "203.0.113.7"),  # two trusted hops
        ("10.0.0.1", ["1.2.3.4", "203.0.113.7"], "203.0.113.7"),  # repeated header, in order
        ("10.0.0.1", ["garbage, 203.0.113.7"], "203.0.113.7"),
        ("10.0.0.1", ["203.0.113.7, garbage"], "10.0.0.1"),  # a garbled hop ends the chain
        ("10.0.0.1", [], "10.0.0.1"),
        ("10.0.0.1", ["35.191.4.5"], "35.191.4.5"),  # all trusted: the farthest one
        ("10.0.0.1", ["[2001:db8::1]"], "2001:db8::1"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], expected: str) -> None:
    networks = parse_networks(["10.0.0.0/8", "35.191.0.0/16"])
    assert client_address(peer, forwarded, networks) == expected


def _echo_client_app(trusted: list[str]) -> TrustedProxyMiddleware:
    async def echo(request: Request) -> PlainTextResponse:
        client = request.client.host if request.client else "-"
        return PlainTextResponse(f"{client} {request.url.scheme}")

    return TrustedProxyMiddleware(Starlette(routes=[Route("/", echo)]), trusted)


@pytest.mark.parametrize(
    ("trusted", "peer", "expected"),
    [
        ([], "10.0.0.1", "10.0.0.1 http"),  # nothing configured: headers ignored
        (["10.0.0.0/8"], "10.0.0.1", "203.0.113.7 https"),
        (["10.0.0.0/8"], "192.0.2.9", "192.0.2.9 http"),  # a direct client cannot pose as a proxy
    ],
)
def test_the_middleware_rewrites_the_client_only_behind_a_trusted_hop(
    trusted: list[str], peer: str, expected: str
) -> None:
    headers = {"X-Forwarded-For": "1.2.3.4, 203.0.113.7", "X-Forwarded-Proto": "https"}
    with TestClient(_echo_client_app(trusted), client=(peer, 5000)) as client:
        assert client.get("/", headers=headers).text == expected


def test_a_malformed_trusted_proxy_setting_is_refused() -> None:
    with pytest.raises(ValidationError, match=re.escape("10.0.0.300")):
        Settings(env="test", trusted_proxies="10.0.0.1,10.0.0.300")  # type: ignore[arg-type]
    assert Settings(env="test", trusted_proxies=" 10.0.0.1 , 35.191.0.0/16").trusted_proxies == [  # type: ignore[arg-type]
        "10.0.0.1",
        "35.191.0.0/16",
    ]
