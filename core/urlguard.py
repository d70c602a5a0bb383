"""Where Drainboard refuses to connect (cluster API servers, webhooks): cloud metadata hosts and addresses,
link-local and non-unicast addresses, however the address is written."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048

# Cloud instance-metadata endpoints: reachable from inside most clouds, and never a Kubernetes API or a webhook.
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("100.100.100.200"),
        ipaddress.ip_address("fd00:ec2::254"),
    }
)

# One part of an IPv4 address as inet_aton(3) and URL parsers read it: hex (0x…), octal (0…) or decimal.
_V4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")


def is_metadata_host(host: str) -> bool:
    return host.lower().rstrip(".") in METADATA_HOSTS


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal means, or None for a name.

    Besides the dotted and IPv6 forms this reads the older IPv4 forms that resolvers and URL parsers still
    accept: one 32-bit number (2852039166), hex (0xa9fea9fe), octal parts (0251.0376.0251.0376) and fewer than
    four parts (169.254.43518). Python's ipaddress refuses those, so without this they passed the guard."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_V4_PART.fullmatch(part) for part in parts):
        return None
    numbers = [_v4_number(part) for part in parts]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _v4_number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


def forbidden_address_reason(address: IPAddress) -> str | None:
    """Why Drainboard refuses to connect to this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return f"{address} is not a unicast host address"
    return None


def split_url(url: str, *, scheme_message: str, quote_errors: bool) -> SplitResult:
    """The checks every outbound URL passes, before its caller's own: not too long, no spaces or control characters,
    parseable with a valid port, http or https, a host, not port 0. `quote_errors`: the parser's own words may be
    shown (they can repeat part of the URL, which for a webhook is a secret)."""
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"The URL is longer than {MAX_URL_LENGTH} characters.", code="max_length")
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        raise ValidationError("The URL contains spaces or control characters.", code="invalid")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        words = f": {error}." if quote_errors else " (check the host and port)."
        raise ValidationError(f"This is not a valid URL{words}", code="invalid") from None
    if parts.scheme not in ("https", "http"):
        raise ValidationError(scheme_message, code="invalid_scheme")
    if not parts.hostname:
        raise ValidationError("The URL has no host name.", code="invalid")
    if port == 0:
        raise ValidationError("Port 0 is not a valid port.", code="invalid")
    return parts


def refuse_host(host: str, *, name_host: bool, allow_loopback: bool = False) -> None:
    """Raise ValidationError when the host as written is one Drainboard never connects to: a metadata host name, or
    a metadata, link-local or non-unicast address in any form. Names that resolve to one are refused again at
    connection time."""
    if is_metadata_host(host):
        subject = host if name_host else "The host"
        raise ValidationError(f"{subject} is a cloud metadata host and is always refused.", code="forbidden_host")
    literal = literal_address(host)
    if literal is None or (allow_loopback and literal.is_loopback):
        return
    reason = forbidden_address_reason(literal)
    if reason:
        raise ValidationError(f"{reason} and is always refused.", code="forbidden_host")
