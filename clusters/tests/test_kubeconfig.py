"""Kubeconfig import: the context's server, CA and credentials; every dangerous or broken entry refused in words."""

from __future__ import annotations

import base64

import pytest
import yaml
from django.core.exceptions import ValidationError

from clusters.kubeconfig import parse_kubeconfig
from tests.tlsserver import key_pem, make_ca, make_leaf, pem


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CA_KEY, CA_CERT = make_ca()
CA = pem(CA_CERT)


def kubeconfig(user: dict | None = None, cluster: dict | None = None, **top) -> str:
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c1",
                "cluster": {
                    "server": "https://127.0.0.1:6443",
                    "certificate-authority-data": b64(CA),
                    **(cluster or {}),
                },
            }
        ],
        "users": [{"name": "u1", "user": user if user is not None else {"token": "s3cret-token"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c1", "user": "u1"}}],
        "current-context": "prod",
    }
    data.update(top)
    return yaml.safe_dump(data)


def test_token_context_is_read():
    entry = parse_kubeconfig(kubeconfig())
    assert entry.server == "https://127.0.0.1:6443"
    assert entry.token == "s3cret-token"
    assert "BEGIN CERTIFICATE" in entry.ca_pem
    assert entry.context == "prod"


def test_client_certificate_context_is_read():
    key, cert = make_leaf(CA_KEY, CA_CERT, dns=["user"], ips=[])
    entry = parse_kubeconfig(
        kubeconfig(user={"client-certificate-data": b64(pem(cert)), "client-key-data": b64(key_pem(key))})
    )
    assert "BEGIN CERTIFICATE" in entry.client_cert_pem
    assert "PRIVATE KEY" in entry.client_key_pem
    assert entry.token == ""


def test_named_context_is_chosen_over_current_context():
    text = yaml.safe_load(kubeconfig())
    text["contexts"].append({"name": "staging", "context": {"cluster": "c1", "user": "u1"}})
    assert parse_kubeconfig(yaml.safe_dump(text), "staging").context == "staging"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("", "kubeconfig", "Paste or upload"),
        ("{{{: nope", "kubeconfig", "not valid YAML"),
        ("- a\n- b\n", "kubeconfig", "must be a YAML mapping"),
        ("a: &x [1]\nb: *x\n", "kubeconfig", "aliases"),
        (kubeconfig(contexts=[]), "kubeconfig", "no contexts"),
        (kubeconfig(user={"exec": {"command": "aws", "args": ["eks", "get-token"]}}), "kubeconfig", "runs a program"),
        (kubeconfig(user={"auth-provider": {"name": "gcp"}}), "kubeconfig", "auth plugin"),
        (kubeconfig(user={"tokenFile": "/etc/shadow"}), "kubeconfig", "reads a token from a file"),
        (kubeconfig(user={"client-certificate": "/etc/cert", "client-key": "/etc/key"}), "kubeconfig", "from a file"),
        (kubeconfig(user={"username": "u", "password": "p"}), "kubeconfig", "basic authentication"),
        (kubeconfig(user={"token": "t", "as": "system:admin"}), "kubeconfig", "impersonates"),
        (kubeconfig(user={}), "kubeconfig", "has no token and no client certificate"),
        (kubeconfig(user={"client-certificate-data": b64("x")}), "kubeconfig", "needs both"),
        (
            kubeconfig(user={"client-certificate-data": b64("x"), "client-key-data": b64("y")}),
            "kubeconfig",
            "not a PEM certificate",
        ),
        (kubeconfig(user={"token": "two words"}), "kubeconfig", "token: "),
        (kubeconfig(cluster={"certificate-authority": "/etc/ca.crt"}), "kubeconfig", "reads a CA file"),
        (kubeconfig(cluster={"proxy-url": "http://proxy:3128"}), "kubeconfig", "through a proxy"),
        (kubeconfig(cluster={"insecure-skip-tls-verify": True}), "kubeconfig", "turns off TLS verification"),
        (kubeconfig(cluster={"certificate-authority-data": "!!!"}), "kubeconfig", "not valid base64"),
        (kubeconfig(cluster={"certificate-authority-data": b64("junk")}), "kubeconfig", "must be PEM"),
        (kubeconfig(cluster={"server": ""}), "kubeconfig", "no server URL"),
        (kubeconfig(**{"current-context": "missing"}), "context", "no context 'missing'"),
        (
            "clusters: []\nusers: []\ncontexts:\n- name: a\n  context: {cluster: x, user: y}\n",
            "kubeconfig",
            "no cluster named 'x'",
        ),
        ("x" * (600 * 1024), "kubeconfig", "larger than 512 KiB"),
    ],
)
def test_refusals_name_the_problem(text, field, message):
    with pytest.raises(ValidationError) as raised:
        parse_kubeconfig(text)
    errors = raised.value.message_dict
    assert field in errors
    assert message in errors[field][0], errors


def test_several_contexts_and_no_current_context_asks_to_choose():
    data = yaml.safe_load(kubeconfig())
    del data["current-context"]
    data["contexts"].append({"name": "staging", "context": {"cluster": "c1", "user": "u1"}})
    with pytest.raises(ValidationError) as raised:
        parse_kubeconfig(yaml.safe_dump(data))
    assert raised.value.message_dict["context"] == ["Choose a context: prod, staging."]


def test_billion_laughs_is_refused_quickly():
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(9)
    )
    with pytest.raises(ValidationError, match="aliases"):
        parse_kubeconfig(bomb)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 400 + "]" * 400,
        "a: " + "{b: " * 400 + "1" + "}" * 400,
        "a:\n" + "".join("  " * i + f"b{i}:\n" for i in range(1, 400)) + "  " * 400 + "x: 1\n",
        "a: " + "[" * 100_000,  # unclosed: the depth bound answers before the parser reaches the end
    ],
    ids=["flow sequences", "flow mappings", "block mappings", "unclosed"],
)
def test_deeply_nested_yaml_is_refused_in_words_not_a_recursion_error(text):
    with pytest.raises(ValidationError) as raised:
        parse_kubeconfig(text)
    assert "nests deeper than 32 levels" in raised.value.message_dict["kubeconfig"][0]


def test_a_real_kubeconfigs_nesting_is_well_inside_the_depth_bound():
    entry = parse_kubeconfig("a: " + "[" * 30 + "]" * 30 + "\n" + kubeconfig())
    assert entry.server
