"""URL, CA, token and name checks, as tables: each bad value gets its own sentence."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clusters.validation import validate_api_url, validate_ca_pem, validate_cluster_name, validate_token
from tests.tlsserver import make_ca, pem


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://k8s.example.com:6443", "https://k8s.example.com:6443"),
        ("https://k8s.example.com:6443/", "https://k8s.example.com:6443"),
        ("  https://10.0.0.1:6443  ", "https://10.0.0.1:6443"),
        ("https://[2001:db8::1]:6443", "https://[2001:db8::1]:6443"),
        ("https://127.0.0.1:6443/prefix/", "https://127.0.0.1:6443/prefix"),
    ],
)
def test_valid_urls_are_normalised(url, expected):
    assert validate_api_url(url, allow_http=False) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the API server URL"),
        ("k8s.example.com:6443", "must start with https://"),
        ("ftp://k8s.example.com", "must start with https://"),
        ("http://k8s.example.com", "Plain http:// is refused"),
        ("https://", "no host name"),
        ("https://user:pw@k8s.example.com", "not in the URL"),
        ("https://k8s.example.com/?a=b", "query string"),
        ("https://k8s.example.com:99999", "not a valid URL"),
        ("https://k8s.example.com:0", "Port 0"),
        ("https://169.254.169.254", "cloud metadata address"),
        ("https://169.254.10.1:6443", "link-local"),
        ("https://[fe80::1]:6443", "link-local"),
        ("https://[fd00:ec2::254]", "cloud metadata address"),
        # The metadata address as one number, in hex, in octal and in three parts: resolvers take them all.
        ("https://2852039166/", "169.254.169.254 is a cloud metadata address"),
        ("https://0xa9fea9fe/", "169.254.169.254 is a cloud metadata address"),
        ("https://0251.0376.0251.0376/", "169.254.169.254 is a cloud metadata address"),
        ("https://169.254.43518:6443", "169.254.169.254 is a cloud metadata address"),
        ("https://0xA9.0xFE.0xA9.0xFE", "169.254.169.254 is a cloud metadata address"),
        ("https://2852039681", "169.254.172.1 is a link-local address"),
        ("https://0/", "0.0.0.0 is not a unicast host address"),
        ("https://metadata.google.internal", "metadata host"),
        ("https://0.0.0.0:6443", "not a unicast host address"),
        ("https://k8s.example.com/\x00", "control characters"),
        ("https://k8s example.com", "spaces"),
        ("https://" + "a" * 2100 + ".com", "longer than 2048"),
    ],
)
def test_invalid_urls_get_a_specific_message(url, message):
    with pytest.raises(ValidationError) as raised:
        validate_api_url(url, allow_http=False)
    assert message in raised.value.messages[0]


def test_http_is_accepted_only_when_explicitly_allowed():
    assert validate_api_url("http://127.0.0.1:8080", allow_http=True) == "http://127.0.0.1:8080"


def test_metadata_address_is_refused_even_when_http_is_allowed():
    with pytest.raises(ValidationError, match="metadata"):
        validate_api_url("http://169.254.169.254/latest", allow_http=True)


def test_ca_bundle_accepts_pem_and_blank():
    _, cert = make_ca()
    assert "BEGIN CERTIFICATE" in validate_ca_pem(pem(cert))
    assert validate_ca_pem("   ") == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "must be PEM"),
        ("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----", "not valid PEM"),
        ("-----BEGIN CERTIFICATE-----\n" + "A" * 300_000 + "\n-----END CERTIFICATE-----", "larger than"),
    ],
)
def test_bad_ca_bundles_are_refused(text, message):
    with pytest.raises(ValidationError) as raised:
        validate_ca_pem(text)
    assert message in raised.value.messages[0]


@pytest.mark.parametrize(
    ("token", "result"),
    [("abc.def-ghi", "abc.def-ghi"), ("Bearer abc", "abc"), ("  abc  ", "abc")],
)
def test_tokens_are_trimmed(token, result):
    assert validate_token(token) == result


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "Enter the bearer token"),
        ("two words", "spaces"),
        ("tab\there", "spaces"),
        ("é", "spaces"),
        ("x" * 20000, "longer"),
    ],
)
def test_bad_tokens_are_refused(token, message):
    with pytest.raises(ValidationError) as raised:
        validate_token(token)
    assert message in raised.value.messages[0]


@pytest.mark.parametrize("name", ["prod", "prod-eu-1", "a", "0abc"])
def test_good_names(name):
    assert validate_cluster_name(name) == name


@pytest.mark.parametrize("name", ["", "Prod", "prod_eu", "-prod", "prod-", "a" * 64, "<script>", "pr\nod"])
def test_bad_names(name):
    with pytest.raises(ValidationError):
        validate_cluster_name(name)
