"""The outbound guard: which host literals mean which address, and which addresses are refused."""

from __future__ import annotations

import ipaddress

import pytest

from core.urlguard import forbidden_address_reason, is_metadata_host, literal_address


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("169.254.169.254", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("0XA9FEA9FE", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("0xA9.0xFE.0xA9.0xFE", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("169.16689662", "169.254.169.254"),
        ("169.254.169.254.", "169.254.169.254"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("4294967295", "255.255.255.255"),
        ("::1", "::1"),
        ("fd00:ec2::254", "fd00:ec2::254"),
        ("4294967296", None),  # past 32 bits
        ("256.1.1.1", None),
        ("1.2.3.4.5", None),
        ("08.1.1.1", None),  # 8 is not an octal digit
        ("example.com", None),
        ("a.1", None),
        ("", None),
    ],
)
def test_literal_address(host, address):
    expected = ipaddress.ip_address(address) if address else None
    assert literal_address(host) == expected


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "169.254.169.254 is a cloud metadata address"),
        ("::ffff:169.254.169.254", "169.254.169.254 is a cloud metadata address"),
        ("100.100.100.200", "100.100.100.200 is a cloud metadata address"),
        ("169.254.1.1", "169.254.1.1 is a link-local address"),
        ("fe80::1", "fe80::1 is a link-local address"),
        ("0.0.0.0", "0.0.0.0 is not a unicast host address"),
        ("224.0.0.1", "224.0.0.1 is not a unicast host address"),
        ("10.0.0.1", None),
        ("127.0.0.1", None),
        ("8.8.8.8", None),
    ],
)
def test_forbidden_address_reason(address, reason):
    assert forbidden_address_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    ("host", "expected"),
    [("metadata.google.internal", True), ("METADATA.google.internal.", True), ("metadata.example.com", False)],
)
def test_is_metadata_host(host, expected):
    assert is_metadata_host(host) is expected
