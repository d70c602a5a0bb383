"""The only module that talks to Kubernetes: one client per cluster per process, typed results, errors in words.

Requests go through the official `kubernetes` client's ApiClient (auth, JSON bodies, its urllib3 pool), with a
TLS context and pool built here so that the CA and client certificate stay in memory, every call has connect and
read timeouts, no redirect is ever followed, and answers are size-capped before they are parsed.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from clusters.kubetypes import Answer, Node, Pdb, Pod
from clusters.models import Cluster, Credentials
from clusters.validation import resolve_and_check

MAX_DISCOVERY_BYTES = 4 * 1024 * 1024
T = TypeVar("T")
USER_AGENT = "drainboard/1"


class ErrorKind(StrEnum):
    TLS = "tls"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    DNS = "dns"
    CONNECTION = "connection"
    NOT_KUBERNETES = "not_kubernetes"
    REDIRECT = "redirect"
    BLOCKED = "blocked"
    TOO_LARGE = "too_large"
    HTTP = "http"


class KubeError(Exception):
    """A failed call, with a sentence a person can act on."""

    def __init__(self, kind: ErrorKind, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Endpoint:
    """Everything needed to reach one cluster's API server."""

    api_url: str
    ca_pem: str
    credentials: Credentials
    cluster_id: int | None = None

    @classmethod
    def for_cluster(cls, cluster: Cluster) -> Endpoint:
        return cls(cluster.api_url, cluster.ca_pem, cluster.credentials, cluster.pk)

    def fingerprint(self) -> str:
        material = json.dumps(
            [
                self.api_url,
                self.ca_pem,
                self.credentials.token,
                self.credentials.client_cert_pem,
                self.credentials.client_key_pem,
            ]
        )
        return hashlib.sha256(material.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"Endpoint({self.api_url!r}, cluster_id={self.cluster_id})"


@dataclass(frozen=True)
class Response:
    """One raw HTTP answer (internal to this module)."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise KubeError(ErrorKind.NOT_KUBERNETES, "The server answered with something that is not JSON.") from None


@dataclass(frozen=True)
class Connectivity:
    reachable: bool
    server_version: str = ""
    eviction_api_version: str = ""  # "policy/v1", "policy/v1beta1", or "" when pods/eviction is not served
    error: str = ""
    error_kind: str = ""


def _ssl_context(endpoint: Endpoint) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=endpoint.ca_pem) if endpoint.ca_pem else ssl.create_default_context()
    creds = endpoint.credentials
    if creds.client_cert_pem:
        # ssl can only load a key pair from a file: write it to a private temporary file, load, remove at once.
        directory = "/dev/shm" if os.path.isdir("/dev/shm") else None
        with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".pem") as handle:
            os.chmod(handle.name, 0o600)
            handle.write(creds.client_cert_pem + "\n" + creds.client_key_pem)
            handle.flush()
            context.load_cert_chain(handle.name)
    return context


def _new_client(endpoint: Endpoint) -> k8s.ApiClient:
    configuration = k8s.Configuration(host=endpoint.api_url)
    if endpoint.credentials.token:
        configuration.api_key = {"BearerToken": endpoint.credentials.token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    api_client = k8s.ApiClient(configuration)
    api_client.user_agent = USER_AGENT
    # No retries and no redirects: a 3xx comes back as an answer and is refused below.
    no_retries = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_redirect=False)
    if urlsplit(endpoint.api_url).scheme == "https":
        pool: urllib3.PoolManager = urllib3.PoolManager(
            num_pools=4, maxsize=8, ssl_context=_ssl_context(endpoint), retries=no_retries
        )
    else:
        pool = urllib3.PoolManager(num_pools=4, maxsize=8, retries=no_retries)
    api_client.rest_client.pool_manager = pool
    return api_client


_clients: dict[Any, tuple[str, k8s.ApiClient]] = {}
_clients_lock = threading.Lock()


def api_client_for(endpoint: Endpoint) -> k8s.ApiClient:
    """One ApiClient per cluster per process, rebuilt when the cluster's URL, CA or credentials change."""
    key = endpoint.cluster_id if endpoint.cluster_id is not None else ("unsaved", endpoint.api_url)
    fingerprint = endpoint.fingerprint()
    with _clients_lock:
        cached = _clients.get(key)
        if cached and cached[0] == fingerprint:
            return cached[1]
        api_client = _new_client(endpoint)
        _clients[key] = (fingerprint, api_client)
    if cached:
        cached[1].rest_client.pool_manager.clear()
    return api_client


def forget_client(cluster_id: int) -> None:
    with _clients_lock:
        cached = _clients.pop(cluster_id, None)
    if cached:
        cached[1].rest_client.pool_manager.clear()


def _describe_transport_error(error: BaseException, endpoint: Endpoint) -> KubeError:
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    host = urlsplit(endpoint.api_url).netloc
    if isinstance(reason, (ssl.SSLError, urllib3.exceptions.SSLError)) or "CERTIFICATE_VERIFY_FAILED" in text:
        detail = "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else text.split("(", 1)[0]
        if "hostname" in text.lower() or "IP address mismatch" in text:
            detail = "the certificate does not match the host name"
        return KubeError(ErrorKind.TLS, f"TLS verification failed for {host}: {detail}. Check the CA bundle.")
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return KubeError(ErrorKind.DNS, f"The host name in {host} could not be resolved.")
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2, so it is tested first.
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        if "refused" in text.lower():
            return KubeError(ErrorKind.REFUSED, f"Connection refused by {host}: nothing listens on that port.")
        if "timed out" in text.lower():
            return KubeError(ErrorKind.TIMEOUT, f"{host} did not accept a connection in time.")
        return KubeError(ErrorKind.CONNECTION, f"Could not connect to {host}.")
    if isinstance(reason, (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError)):
        return KubeError(ErrorKind.TIMEOUT, f"{host} did not answer in time.")
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        return KubeError(ErrorKind.CONNECTION, f"{host} closed the connection without a complete answer.")
    return KubeError(ErrorKind.CONNECTION, f"Could not talk to {host} ({type(reason).__name__}).")


def call(
    endpoint: Endpoint,
    method: str,
    path: str,
    *,
    query: dict[str, Any] | None = None,
    body: Any = None,
    limit: int = MAX_DISCOVERY_BYTES,
    read_timeout: float | None = None,
    content_type: str = "application/json",
) -> Response:
    """One HTTP call to the API server; transport failures become KubeError, HTTP errors come back as answers."""
    parts = urlsplit(endpoint.api_url)
    try:
        resolve_and_check(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except ValidationError as error:
        raise KubeError(ErrorKind.BLOCKED, error.messages[0]) from None
    api_client = api_client_for(endpoint)
    url = endpoint.api_url + path + (f"?{urlencode(query)}" if query else "")
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if body is not None:
        headers["Content-Type"] = content_type
    api_client.update_params_for_auth(headers, [], ["BearerToken"], path, method, body)
    timeout = (settings.KUBE_CONNECT_TIMEOUT_SECONDS, read_timeout or settings.KUBE_READ_TIMEOUT_SECONDS)
    try:
        raw = api_client.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout).response
        try:
            data = raw.read(limit + 1, decode_content=True)
            if len(data) > limit:
                raise KubeError(ErrorKind.TOO_LARGE, f"The answer to {path} is larger than {limit // 1024} KiB.")
        finally:
            raw.release_conn()
    except ApiException as error:  # the client wraps TLS failures this way
        raise _describe_transport_error(ssl.SSLError(str(error.reason)), endpoint) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise _describe_transport_error(error, endpoint) from None
    answer = Response(raw.status, {k.lower(): v for k, v in raw.headers.items()}, data)
    if 300 <= answer.status < 400:
        raise KubeError(
            ErrorKind.REDIRECT,
            f"The server answered {path} with a redirect ({answer.status}); Drainboard never follows redirects. "
            "Use the API server's own URL.",
            answer.status,
        )
    return answer


def _status_message(answer: Response) -> str:
    try:
        message = answer.json().get("message", "")
    except (KubeError, AttributeError):
        message = ""
    return str(message)[:300]


def _raise_for_status(answer: Response, what: str) -> None:
    if answer.status == 401:
        raise KubeError(ErrorKind.UNAUTHORIZED, "Unauthorized (401): the API server rejected the credentials.", 401)
    if answer.status == 403:
        detail = _status_message(answer) or "the credentials may not read this"
        raise KubeError(ErrorKind.FORBIDDEN, f"Forbidden (403) reading {what}: {detail}. Check RBAC.", 403)
    if answer.status != 200:
        detail = _status_message(answer)
        raise KubeError(
            ErrorKind.HTTP,
            f"{what} answered HTTP {answer.status}" + (f": {detail}" if detail else "") + ".",
            answer.status,
        )


def _get_json(endpoint: Endpoint, path: str) -> dict[str, Any]:
    answer = call(endpoint, "GET", path)
    _raise_for_status(answer, path)
    data = answer.json()
    if not isinstance(data, dict):
        raise KubeError(ErrorKind.NOT_KUBERNETES, f"{path} did not answer with a JSON object.")
    return data


def eviction_api_version(core_resources: dict[str, Any], groups: dict[str, Any]) -> str:
    """Which policy version serves pods/eviction, as kubectl learns it from discovery ("" if none)."""
    resources = core_resources.get("resources")
    if not isinstance(resources, list):
        return ""
    eviction = next((r for r in resources if isinstance(r, dict) and r.get("name") == "pods/eviction"), None)
    if eviction is None:
        return ""
    if eviction.get("group") == "policy" and eviction.get("version") in ("v1", "v1beta1"):
        return f"policy/{eviction['version']}"
    served = set()
    for group in groups.get("groups") or []:
        if isinstance(group, dict) and group.get("name") == "policy":
            served = {v.get("version") for v in group.get("versions") or [] if isinstance(v, dict)}
    if "v1" in served:
        return "policy/v1"
    if "v1beta1" in served:
        return "policy/v1beta1"
    return ""


def check_connectivity(endpoint: Endpoint) -> Connectivity:
    """Call /version and API discovery; never raises for anything the cluster or the network does."""
    try:
        version = _get_json(endpoint, "/version")
        git_version = version.get("gitVersion")
        if not isinstance(git_version, str) or not git_version:
            raise KubeError(
                ErrorKind.NOT_KUBERNETES, "/version has no gitVersion: this is not a Kubernetes API server."
            )
        core = _get_json(endpoint, "/api/v1")
        groups = _get_json(endpoint, "/apis")
    except KubeError as error:
        if error.kind is ErrorKind.HTTP and error.status == 404:
            message = "The server has no /version or discovery endpoint: this is not a Kubernetes API server."
            return Connectivity(False, error=message, error_kind=ErrorKind.NOT_KUBERNETES)
        return Connectivity(False, error=error.message, error_kind=error.kind)
    eviction = eviction_api_version(core, groups)
    problem = "" if eviction else "The API server does not serve pods/eviction; evictions are not possible."
    return Connectivity(True, git_version[:64], eviction, error=problem)


# ---- reads and writes for the eviction engine -------------------------------------------------------------------

MAX_LIST_BYTES = 64 * 1024 * 1024  # per page
# Lists are read this many objects at a time, as kubectl does (--chunk-size 500): no answer holds a whole big
# cluster, and the API server serves each page from its cache without building one huge response.
LIST_PAGE_SIZE = 500
MAX_LIST_ITEMS = 500_000


def _list_items(
    endpoint: Endpoint, path: str, parse: Callable[[dict[str, Any]], T], query: dict[str, Any] | None = None
) -> tuple[list[T], str]:
    """Every item of a list, page by page, parsed as each page comes (so only one page is ever held raw), and the
    resourceVersion the list started at (for a watch to continue).

    A continue token the server no longer honours (410 Gone: its version was compacted while the pages were read)
    restarts the list once from the beginning; a second expiry is an error.
    """
    for _ in range(2):
        items: list[T] = []
        version, token, pages = "", "", 0
        while True:
            pages += 1
            if pages > MAX_LIST_ITEMS // LIST_PAGE_SIZE + 1:  # a server handing out empty pages without end
                raise KubeError(ErrorKind.TOO_LARGE, f"{path} did not end after {pages - 1} pages.")
            page_query = {**(query or {}), "limit": LIST_PAGE_SIZE, **({"continue": token} if token else {})}
            answer = call(endpoint, "GET", path, query=page_query, limit=MAX_LIST_BYTES)
            if answer.status == 410 and token:
                break
            _raise_for_status(answer, path)
            data = answer.json()
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise KubeError(ErrorKind.NOT_KUBERNETES, f"{path} did not answer with a list.")
            meta = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
            items.extend(parse(item) for item in data["items"] if isinstance(item, dict))
            if len(items) > MAX_LIST_ITEMS:
                raise KubeError(ErrorKind.TOO_LARGE, f"{path} lists more than {MAX_LIST_ITEMS} objects.")
            version = version or str(meta.get("resourceVersion", ""))
            next_token = str(meta.get("continue") or "")
            if not next_token:
                return items, version
            if next_token == token:
                raise KubeError(ErrorKind.NOT_KUBERNETES, f"{path} answered the same page twice.")
            token = next_token
    raise KubeError(
        ErrorKind.HTTP,
        f"{path} changed faster than it could be read page by page: the list's continue token expired twice "
        "(410 Gone). Try again.",
        410,
    )


def list_pods(
    endpoint: Endpoint, *, namespace: str = "", node: str = "", name: str = "", label_selector: str = ""
) -> list[Pod]:
    """Pods cluster-wide or in a namespace, filtered on the server by node, name and labels."""
    fields = [f"spec.nodeName={node}"] if node else []
    if name:
        fields.append(f"metadata.name={name}")
    query = {k: v for k, v in {"fieldSelector": ",".join(fields), "labelSelector": label_selector}.items() if v}
    path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
    return _list_items(endpoint, path, Pod.parse, query)[0]


def get_pod(endpoint: Endpoint, namespace: str, name: str) -> Pod | None:
    answer = call(endpoint, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    if answer.status == 404:
        return None
    _raise_for_status(answer, f"pod {namespace}/{name}")
    return Pod.parse(answer.json())


def _pdb_path(namespace: str, api_version: str) -> str:
    base = f"/apis/{api_version or 'policy/v1'}"
    return f"{base}/namespaces/{namespace}/poddisruptionbudgets" if namespace else f"{base}/poddisruptionbudgets"


def list_pdbs(endpoint: Endpoint, *, namespace: str = "", api_version: str = "policy/v1") -> list[Pdb]:
    return list_pdbs_at(endpoint, namespace=namespace, api_version=api_version)[0]


def list_pdbs_at(endpoint: Endpoint, *, namespace: str = "", api_version: str = "policy/v1") -> tuple[list[Pdb], str]:
    """The budgets and the list's resourceVersion, from which a watch continues."""
    return _list_items(endpoint, _pdb_path(namespace, api_version), Pdb.parse)


def watch_pdbs(
    endpoint: Endpoint,
    *,
    resource_version: str,
    timeout_seconds: int,
    namespace: str = "",
    api_version: str = "policy/v1",
) -> Iterator[tuple[str, Pdb | None, str]]:
    """Yield (event type, budget, resourceVersion) as the API server streams changes; ends after timeout_seconds.

    One long request replaces polling: Drainboard learns the moment a budget allows a disruption again.
    An ERROR event (e.g. 410 Gone: the version is too old) ends the stream with ("ERROR", None, "").
    """
    parts = urlsplit(endpoint.api_url)
    try:
        resolve_and_check(parts.hostname or "", parts.port or 443)
    except ValidationError as error:
        raise KubeError(ErrorKind.BLOCKED, error.messages[0]) from None
    api_client = api_client_for(endpoint)
    path = _pdb_path(namespace, api_version)
    query = {
        "watch": "1",
        "resourceVersion": resource_version,
        "timeoutSeconds": str(timeout_seconds),
        "allowWatchBookmarks": "false",
    }
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    api_client.update_params_for_auth(headers, [], ["BearerToken"], path, "GET", None)
    timeout = (settings.KUBE_CONNECT_TIMEOUT_SECONDS, timeout_seconds + settings.KUBE_READ_TIMEOUT_SECONDS)
    try:
        raw = api_client.call_api(
            "GET", f"{endpoint.api_url}{path}?{urlencode(query)}", header_params=headers, _request_timeout=timeout
        ).response
    except ApiException as error:
        raise _describe_transport_error(ssl.SSLError(str(error.reason)), endpoint) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise _describe_transport_error(error, endpoint) from None
    try:
        if raw.status != 200:
            _raise_for_status(Response(raw.status, {}, raw.read(64 * 1024)), path)
        buffer = b""
        try:
            for chunk in raw.stream(64 * 1024, decode_content=True):
                buffer += chunk
                if len(buffer) > MAX_DISCOVERY_BYTES:
                    raise KubeError(ErrorKind.TOO_LARGE, "A watch event was larger than 4 MiB.")
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        raise KubeError(ErrorKind.NOT_KUBERNETES, "The watch stream is not JSON lines.") from None
                    kind, obj = str(event.get("type", "")), event.get("object")
                    if kind == "ERROR" or not isinstance(obj, dict):
                        yield "ERROR", None, ""
                        return
                    pdb = Pdb.parse(obj)
                    version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
                    yield kind, pdb, version
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise _describe_transport_error(error, endpoint) from None
    finally:
        raw.release_conn()


def get_node(endpoint: Endpoint, name: str) -> Node | None:
    answer = call(endpoint, "GET", f"/api/v1/nodes/{name}")
    if answer.status == 404:
        return None
    _raise_for_status(answer, f"node {name}")
    return Node.parse(answer.json())


def list_nodes(endpoint: Endpoint, label_selector: str = "") -> list[Node]:
    """The cluster's nodes, or those the label selector (kubectl's -l syntax) matches, filtered on the server."""
    query = {"labelSelector": label_selector} if label_selector else None
    return _list_items(endpoint, "/api/v1/nodes", Node.parse, query)[0]


def set_unschedulable(endpoint: Endpoint, name: str, unschedulable: bool) -> Node:
    """Cordon or uncordon a node, as `kubectl cordon` does (a patch of spec.unschedulable)."""
    answer = call(
        endpoint,
        "PATCH",
        f"/api/v1/nodes/{name}",
        body={"spec": {"unschedulable": unschedulable or None}},
        content_type="application/merge-patch+json",
    )
    _raise_for_status(answer, f"node {name}")
    return Node.parse(answer.json())


def _write(endpoint: Endpoint, method: str, path: str, body: dict[str, Any], query: dict[str, Any] | None) -> Answer:
    started = time.monotonic()
    try:
        answer = call(endpoint, method, path, body=body, query=query)
    except KubeError as error:
        return Answer(
            None,
            message=error.message,
            transport_error=str(error.kind),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
    try:
        data = json.loads(answer.body) if answer.body else {}
    except ValueError:
        data = {"message": answer.body[:300].decode(errors="replace")}
    return Answer.from_status(answer.status, data, answer.headers, int((time.monotonic() - started) * 1000))


def evict(
    endpoint: Endpoint,
    *,
    namespace: str,
    name: str,
    uid: str,
    api_version: str,
    grace_period_seconds: int | None = None,
    dry_run: bool = False,
) -> Answer:
    """POST an Eviction for the pod with this UID (a same-named replacement answers 409, never evicted)."""
    delete_options: dict[str, Any] = {"preconditions": {"uid": uid}} if uid else {}
    if grace_period_seconds is not None:
        delete_options["gracePeriodSeconds"] = grace_period_seconds
    if dry_run:
        delete_options["dryRun"] = ["All"]
    body: dict[str, Any] = {
        "apiVersion": api_version or "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    }
    if delete_options:
        body["deleteOptions"] = delete_options
    query = {"dryRun": "All"} if dry_run else None
    return _write(endpoint, "POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body, query)


def delete_pod(endpoint: Endpoint, *, namespace: str, name: str, uid: str, grace_period_seconds: int | None) -> Answer:
    """A plain DELETE, bypassing PodDisruptionBudgets; only ever the pod with this UID."""
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
    if grace_period_seconds is not None:
        body["gracePeriodSeconds"] = grace_period_seconds
    return _write(endpoint, "DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body, None)
