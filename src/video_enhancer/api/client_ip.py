"""The client's address behind trusted proxies (pure ASGI middleware).

`X-Forwarded-For` is a list that every proxy appends the address it received the request from
to; a client can start it with anything it likes. Only hops listed in `VE_TRUSTED_PROXIES` are
believed: when the request comes straight from one of them, the list is read from the right,
skipping trusted addresses, and the first address that is not trusted is the client. A request
from anywhere else keeps its own peer address, whatever headers it carries. With no trusted
proxies configured the headers are ignored altogether.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_HOPS = 32  # a longer chain is no real deployment; the rest is not read


def parse_networks(entries: Sequence[str]) -> list[IPNetwork]:
    """`10.0.0.1`, `35.191.0.0/16`, `::1`...; raises ValueError on anything else."""
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _is_trusted(address: str, networks: Sequence[IPNetwork]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in networks)


def client_address(peer: str, forwarded_for: Sequence[str], networks: Sequence[IPNetwork]) -> str:
    """The right-most address of `peer` + the forwarded chain that is not a trusted proxy."""
    if not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    nearest = peer
    for hop in reversed(hops[-_MAX_HOPS:]):
        address = _address(hop)
        if address is None:
            return nearest  # a garbled entry ends what can be believed
        if not any(address in network for network in networks):
            return str(address)
        nearest = str(address)
    return nearest


class TrustedProxyMiddleware:
    def __init__(self, app: ASGIApp, trusted: Sequence[str]) -> None:
        self.app = app
        self.networks = parse_networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and self.networks and client:
            scope = self._rewritten(scope, str(client[0]))
        await self.app(scope, receive, send)

    def _rewritten(self, scope: Scope, peer: str) -> Scope:
        forwarded = [_latin1(v) for name, v in scope.get("headers", ()) if name == b"x-forwarded-for"]
        address = client_address(peer, forwarded, self.networks)
        if address == peer:
            return scope
        rewritten = dict(scope)
        rewritten["client"] = (address, 0)
        proto = [_latin1(v) for name, v in scope.get("headers", ()) if name == b"x-forwarded-proto"]
        last_proto = proto[-1].split(",")[-1].strip().lower() if proto else ""
        if last_proto in ("http", "https"):
            rewritten["scheme"] = last_proto
        return rewritten


def _latin1(value: bytes) -> str:
    return bytes(value).decode("latin-1")
