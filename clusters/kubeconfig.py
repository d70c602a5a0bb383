"""Reading a pasted kubeconfig: one context's server, CA and credentials, refusing anything that runs code
or reads files on the Drainboard host."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import yaml
from django.core.exceptions import ValidationError

from clusters.validation import validate_ca_pem, validate_client_certificate, validate_token

MAX_KUBECONFIG_BYTES = 512 * 1024
# A real kubeconfig nests about six levels (users → user → exec → env → item → value); PyYAML composes nested
# nodes recursively, so a deep document would exhaust the stack before it could be refused.
MAX_KUBECONFIG_DEPTH = 32

# Each of these makes a client run a program, read a file or route through another host.
_FORBIDDEN_USER_FIELDS = {
    "exec": "runs a program to get credentials",
    "auth-provider": "runs a cloud auth plugin",
    "tokenFile": "reads a token from a file on this server",
    "client-certificate": "reads a certificate from a file on this server",
    "client-key": "reads a key from a file on this server",
    "username": "uses basic authentication, which Drainboard does not support",
    "password": "uses basic authentication, which Drainboard does not support",
    "as": "impersonates another user",
    "as-groups": "impersonates groups",
    "as-uid": "impersonates another user",
    "as-user-extra": "impersonates another user",
}
_FORBIDDEN_CLUSTER_FIELDS = {
    "certificate-authority": "reads a CA file on this server; paste certificate-authority-data instead",
    "proxy-url": "routes connections through a proxy",
    "insecure-skip-tls-verify": "turns off TLS verification",
    "tls-server-name": "overrides the TLS server name, which Drainboard does not support",
    "disable-compression": None,  # harmless; allowed
}


@dataclass(frozen=True)
class KubeconfigEntry:
    context: str
    cluster_name: str
    server: str
    ca_pem: str
    token: str = ""
    client_cert_pem: str = ""
    client_key_pem: str = ""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases (a kubeconfig never needs them and they enable YAML bombs) and with a
    bound on nesting, checked while composing, before the recursion gets deep."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            raise ValidationError("The kubeconfig uses YAML aliases (*name), which are not accepted.", code="invalid")
        self._depth += 1
        try:
            if self._depth > MAX_KUBECONFIG_DEPTH:
                mark = self.peek_event().start_mark
                raise ValidationError(
                    f"The kubeconfig nests deeper than {MAX_KUBECONFIG_DEPTH} levels "
                    f"(line {mark.line + 1}, column {mark.column + 1}); a kubeconfig needs far fewer.",
                    code="invalid",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _error(message: str) -> ValidationError:
    return ValidationError({"kubeconfig": [message]})


def load_kubeconfig(text: str) -> dict[str, Any]:
    if not text or not text.strip():
        raise _error("Paste or upload a kubeconfig.")
    if len(text.encode("utf-8", "replace")) > MAX_KUBECONFIG_BYTES:
        raise _error(f"The kubeconfig is larger than {MAX_KUBECONFIG_BYTES // 1024} KiB.")
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except ValidationError as error:
        raise _error(error.messages[0]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise _error(f"The kubeconfig is not valid YAML{where}.") from None
    if not isinstance(data, dict):
        raise _error("The kubeconfig must be a YAML mapping with clusters, users and contexts.")
    return data


def _named(data: dict[str, Any], section: str, key: str, name: str) -> dict[str, Any]:
    items = data.get(section)
    if not isinstance(items, list):
        raise _error(f"The kubeconfig has no '{section}' list.")
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(key)
            if not isinstance(body, dict):
                raise _error(f"The {key} entry '{name}' is empty or not a mapping.")
            return body
    raise _error(f"The kubeconfig has no {key} named '{name}'.")


def context_names(data: dict[str, Any]) -> list[str]:
    contexts = data.get("contexts")
    if not isinstance(contexts, list):
        return []
    return [str(item["name"]) for item in contexts if isinstance(item, dict) and isinstance(item.get("name"), str)]


def _b64_text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _error(f"{field} must be a base64 string.")
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _error(f"{field} is not valid base64-encoded PEM.") from None


def parse_kubeconfig(text: str, context: str | None = None) -> KubeconfigEntry:
    """The entry for `context` (or the current context), with every refusal explained."""
    data = load_kubeconfig(text)
    names = context_names(data)
    if not names:
        raise _error("The kubeconfig has no contexts.")
    chosen = (context or "").strip() or data.get("current-context") or (names[0] if len(names) == 1 else "")
    if not chosen:
        raise ValidationError({"context": [f"Choose a context: {', '.join(names)}."]})
    if chosen not in names:
        raise ValidationError({"context": [f"The kubeconfig has no context '{chosen}'. It has: {', '.join(names)}."]})
    ctx = _named(data, "contexts", "context", chosen)
    cluster_ref, user_ref = ctx.get("cluster"), ctx.get("user")
    if not isinstance(cluster_ref, str) or not isinstance(user_ref, str):
        raise _error(f"Context '{chosen}' must name a cluster and a user.")
    cluster = _named(data, "clusters", "cluster", cluster_ref)
    user = _named(data, "users", "user", user_ref)

    for field, why in _FORBIDDEN_CLUSTER_FIELDS.items():
        if why and field in cluster and cluster[field] not in (None, False, ""):
            raise _error(f"Cluster '{cluster_ref}' uses '{field}', which {why}. It is not accepted.")
    for field, why in _FORBIDDEN_USER_FIELDS.items():
        if field in user and user[field] not in (None, "", [], {}):
            raise _error(f"User '{user_ref}' uses '{field}', which {why}. It is not accepted.")

    server = cluster.get("server")
    if not isinstance(server, str) or not server.strip():
        raise _error(f"Cluster '{cluster_ref}' has no server URL.")
    ca_pem = ""
    if cluster.get("certificate-authority-data"):
        try:
            ca_pem = validate_ca_pem(_b64_text(cluster["certificate-authority-data"], "certificate-authority-data"))
        except ValidationError as error:
            raise _error(f"certificate-authority-data: {error.messages[0]}") from None

    token = user.get("token")
    cert_data, key_data = user.get("client-certificate-data"), user.get("client-key-data")
    if token:
        if not isinstance(token, str):
            raise _error(f"User '{user_ref}' has a token that is not a string.")
        try:
            return KubeconfigEntry(chosen, cluster_ref, server.strip(), ca_pem, token=validate_token(token))
        except ValidationError as error:
            raise _error(f"token: {error.messages[0]}") from None
    if cert_data or key_data:
        if not (cert_data and key_data):
            raise _error(f"User '{user_ref}' needs both client-certificate-data and client-key-data.")
        cert_pem = _b64_text(cert_data, "client-certificate-data")
        key_pem = _b64_text(key_data, "client-key-data")
        try:
            validate_client_certificate(cert_pem, key_pem)
        except ValidationError as error:
            raise _error(error.messages[0]) from None
        return KubeconfigEntry(
            chosen, cluster_ref, server.strip(), ca_pem, client_cert_pem=cert_pem, client_key_pem=key_pem
        )
    raise _error(f"User '{user_ref}' has no token and no client certificate; Drainboard needs one of them.")
