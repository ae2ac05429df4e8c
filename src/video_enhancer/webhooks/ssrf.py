"""Where a webhook may be delivered: resolve once, refuse internal addresses, connect to that one.

The host is resolved at registration and again at every delivery, and the connection goes to the
address that was checked (not to a second lookup), so a name that later resolves to an internal
address (DNS rebinding) is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from video_enhancer.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata servers that are not covered by the link-local range.
_METADATA = {ipaddress.ip_address("fd00:ec2::254")}


class UnsafeWebhookUrl(BadRequest):
    default_code = "INVALID_WEBHOOK_URL"
    default_message = "The webhook URL is not allowed."


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: IPAddress

    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def is_internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and is_internal(embedded):
            return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
        or address in _METADATA
    )


def parse_url(url: str, *, require_https: bool) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    allowed = {"https"} if require_https else {"https", "http"}
    if parts.scheme not in allowed:
        raise UnsafeWebhookUrl(f"The webhook URL must use {' or '.join(sorted(allowed))}.")
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeWebhookUrl("The webhook URL needs a host and no credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeWebhookUrl("The webhook URL has an invalid port.") from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path


def resolve(url: str, *, require_https: bool, allow_private: bool) -> Target:
    """Resolve the URL's host once and return the address to connect to, or raise."""
    scheme, host, port, path = parse_url(url, require_https=require_https)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeWebhookUrl("The webhook host does not resolve.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeWebhookUrl("The webhook host does not resolve.")
    if not allow_private and any(is_internal(a) for a in addresses):
        raise UnsafeWebhookUrl("The webhook host resolves to an internal address.")
    return Target(scheme, host, port, path, addresses[0])
