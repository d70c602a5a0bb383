"""Checks on what people type or paste about a cluster: URL, CA bundle, token, name. Pure functions."""

from __future__ import annotations

import ipaddress
import re
import socket

from cryptography import x509
from django.core.exceptions import ValidationError

from core.urlguard import forbidden_address_reason, refuse_host, split_url

MAX_CA_BYTES = 256 * 1024
MAX_CA_CERTIFICATES = 50
MAX_TOKEN_LENGTH = 16 * 1024
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_TOKEN_PATTERN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what fits in a header


def validate_cluster_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the cluster a name.", code="required")
    if not NAME_PATTERN.match(name):
        raise ValidationError(
            "Use 1-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit.",
            code="invalid",
        )
    return name


def validate_api_url(url: str, *, allow_http: bool) -> str:
    """Return the normalised API server URL, or raise ValidationError saying exactly what is wrong."""
    url = (url or "").strip()
    if not url:
        raise ValidationError("Enter the API server URL, e.g. https://k8s.example.com:6443.", code="required")
    parts = split_url(url, scheme_message="The URL must start with https://.", quote_errors=True)
    if parts.scheme == "http" and not allow_http:
        raise ValidationError(
            "Plain http:// is refused: use https:// (set ALLOW_HTTP_CLUSTERS=true to allow http).",
            code="insecure_scheme",
        )
    if parts.username or parts.password:
        raise ValidationError("Put credentials in the token or kubeconfig, not in the URL.", code="invalid")
    if parts.query or parts.fragment:
        raise ValidationError("The URL must not have a query string or fragment.", code="invalid")
    refuse_host(parts.hostname or "", name_host=True)
    path = parts.path.rstrip("/")
    netloc = parts.netloc.split("@")[-1]
    return f"{parts.scheme}://{netloc}{path}"


def resolve_and_check(host: str, port: int) -> None:
    """Refuse a host name that resolves to a forbidden address (checked again before every connection)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return  # an unresolvable host is reported by the connection attempt itself
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        reason = forbidden_address_reason(address)
        if reason:
            raise ValidationError(f"{host} resolves to {reason}, which is always refused.", code="forbidden_host")


def validate_ca_pem(text: str) -> str:
    """Return the CA bundle as PEM text (blank means the system trust store)."""
    text = (text or "").strip()
    if not text:
        return ""
    if len(text.encode()) > MAX_CA_BYTES:
        raise ValidationError(f"The CA bundle is larger than {MAX_CA_BYTES // 1024} KiB.", code="max_length")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValidationError(
            "The CA bundle must be PEM: one or more -----BEGIN CERTIFICATE----- blocks.", code="invalid_pem"
        )
    try:
        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError as error:
        raise ValidationError(f"The CA bundle is not valid PEM: {error}.", code="invalid_pem") from None
    if len(certificates) > MAX_CA_CERTIFICATES:
        raise ValidationError(f"The CA bundle holds more than {MAX_CA_CERTIFICATES} certificates.", code="invalid_pem")
    return text + "\n"


def validate_token(token: str) -> str:
    token = (token or "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise ValidationError("Enter the bearer token.", code="required")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValidationError(f"The token is longer than {MAX_TOKEN_LENGTH} characters.", code="max_length")
    if not _TOKEN_PATTERN.match(token):
        raise ValidationError(
            "The token contains spaces or characters that cannot be sent in a header.", code="invalid"
        )
    return token


def validate_client_certificate(cert_pem: str, key_pem: str) -> tuple[str, str]:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        raise ValidationError("client-certificate-data is not a PEM certificate.", code="invalid_pem") from None
    try:
        load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValidationError("client-key-data is not an unencrypted PEM private key.", code="invalid_pem") from None
    return cert_pem, key_pem
