"""Hostile input catalogue (issue 7 item 5): every case names its input and where it goes (API, form, kubeconfig
import, cluster answer), and asserts no 5xx, an answer naming the field (or a safe, escaped rendering), and that
nothing was stored half-way. Complements the targeted cases in clusters/tests and evictions/tests."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from audit.models import AuditEvent
from clusters.models import Cluster
from evictions.models import EvictionRequest, MaintenanceWindow
from notifications.models import NotificationEndpoint
from tests.factories import ClusterFactory
from tests.tlsserver import TLSServer, json_route, kubernetes_routes, slow_route

pytestmark = pytest.mark.django_db

TOKEN = "hostile-token"
HUGE = "x" * 10_000
SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG = "<img src=x onerror=alert(1)>"
IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def _counts() -> dict[str, int]:
    return {
        "clusters": Cluster.objects.count(),
        "requests": EvictionRequest.objects.count(),
        "windows": MaintenanceWindow.objects.count(),
        "endpoints": NotificationEndpoint.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


# ---- API bodies --------------------------------------------------------------------------------------------------

CLUSTER_OK = {"name": "ok", "api_url": "https://a.example", "token": "t"}
WINDOW_OK = {"kind": "recurring", "weekdays": [0], "start_time": "22:00", "end_time": "23:00", "timezone": "UTC"}
REQUEST_OK = {"kind": "pods", "reason": "maintenance", "targets": [{"namespace": "default", "name": "web-1"}]}
ENDPOINT_OK = {
    "name": "hook",
    "kind": "webhook",
    "url": "https://hooks.example.com/x",
    "events": ["started"],
    "blocked_after_minutes": 10,
}

BILLION_LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8)
)

KUBECONFIG_EXEC = """
clusters: [{name: c, cluster: {server: "https://a.example"}}]
users: [{name: u, user: {exec: {command: /bin/sh, args: ["-c", "id"], apiVersion: client.authentication.k8s.io/v1}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
KUBECONFIG_AUTH_PROVIDER = KUBECONFIG_EXEC.replace(
    'exec: {command: /bin/sh, args: ["-c", "id"], apiVersion: client.authentication.k8s.io/v1}',
    "auth-provider: {name: gcp, config: {cmd-path: /usr/bin/gcloud}}",
)
KUBECONFIG_FILES = """
clusters: [{name: c, cluster: {server: "https://a.example", certificate-authority: /etc/shadow}}]
users: [{name: u, user: {token-file: /etc/passwd, client-key: /root/.ssh/id_rsa}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
KUBECONFIG_BAD_CA = """
clusters: [{name: c, cluster: {server: "https://a.example", certificate-authority-data: "!!not base64!!"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
KUBECONFIG_HUGE = "clusters: []\n# " + "x" * (600 * 1024) + "\n"
KUBECONFIG_DEEP = "a: " + "[" * 400 + "]" * 400  # PyYAML composes recursively: a RecursionError, once a 500


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


API_CASES = [
    # (id, method, url, body, field named in the 400)
    ("cluster name 10k chars", "post", "/api/v1/clusters/", {**CLUSTER_OK, "name": HUGE}, "name"),
    ("cluster name with NUL", "post", "/api/v1/clusters/", {**CLUSTER_OK, "name": "ab\x00c"}, "name"),
    ("cluster name with script", "post", "/api/v1/clusters/", {**CLUSTER_OK, "name": SCRIPT}, "name"),
    ("cluster api_url 10k", "post", "/api/v1/clusters/", {**CLUSTER_OK, "api_url": "https://" + HUGE}, "api_url"),
    ("cluster api_url javascript:", "post", "/api/v1/clusters/", {**CLUSTER_OK, "api_url": "javascript:x"}, "api_url"),
    ("cluster qps null", "post", "/api/v1/clusters/", {**CLUSTER_OK, "qps_limit": None}, "qps_limit"),
    ("cluster qps as object", "post", "/api/v1/clusters/", {**CLUSTER_OK, "qps_limit": {"a": 1}}, "qps_limit"),
    ("cluster token as list", "post", "/api/v1/clusters/", {**CLUSTER_OK, "token": ["t"]}, "token"),
    ("kubeconfig > size cap", "post", "/api/v1/clusters/", {"name": "k", "kubeconfig": KUBECONFIG_HUGE}, "kubeconfig"),
    (
        "kubeconfig nested 400 deep",
        "post",
        "/api/v1/clusters/",
        {"name": "k", "kubeconfig": KUBECONFIG_DEEP},
        "kubeconfig",
    ),
    ("kubeconfig YAML bomb", "post", "/api/v1/clusters/", {"name": "k", "kubeconfig": BILLION_LAUGHS}, "kubeconfig"),
    ("kubeconfig exec", "post", "/api/v1/clusters/", {"name": "k", "kubeconfig": KUBECONFIG_EXEC}, "kubeconfig"),
    (
        "kubeconfig auth-provider",
        "post",
        "/api/v1/clusters/",
        {"name": "k", "kubeconfig": KUBECONFIG_AUTH_PROVIDER},
        "kubeconfig",
    ),
    ("kubeconfig file paths", "post", "/api/v1/clusters/", {"name": "k", "kubeconfig": KUBECONFIG_FILES}, "kubeconfig"),
    (
        "kubeconfig bad base64 CA",
        "post",
        "/api/v1/clusters/",
        {"name": "k", "kubeconfig": KUBECONFIG_BAD_CA},
        "kubeconfig",
    ),
    ("kubeconfig not a mapping", "post", "/api/v1/clusters/", {"name": "k", "kubeconfig": "- 1\n- 2\n"}, "kubeconfig"),
    ("kubeconfig with NUL", "post", "/api/v1/clusters/", {"name": "k", "kubeconfig": "a: \x00\x01"}, "kubeconfig"),
    ("request reason 10k", "post", "/api/v1/requests/", {**REQUEST_OK, "reason": HUGE}, "reason"),
    ("request reason as list", "post", "/api/v1/requests/", {**REQUEST_OK, "reason": ["a"]}, "reason"),
    ("request reason null", "post", "/api/v1/requests/", {**REQUEST_OK, "reason": None}, "reason"),
    ("request targets as object", "post", "/api/v1/requests/", {**REQUEST_OK, "targets": {"a": 1}}, "targets"),
    ("request unknown field", "post", "/api/v1/requests/", {**REQUEST_OK, "is_admin": True}, "is_admin"),
    (
        "request deadline as string",
        "post",
        "/api/v1/requests/",
        {**REQUEST_OK, "deadline_minutes": "soon"},
        "deadline_minutes",
    ),
    (
        "request target name 10k",
        "post",
        "/api/v1/requests/",
        {**REQUEST_OK, "targets": [{"namespace": "default", "name": HUGE}]},
        "targets",
    ),
    ("request kind unknown", "post", "/api/v1/requests/", {**REQUEST_OK, "kind": SCRIPT}, "kind"),
    ("request reason with NUL", "post", "/api/v1/requests/", {**REQUEST_OK, "reason": "drain\x00now"}, "reason"),
    ("request reason ANSI escape", "post", "/api/v1/requests/", {**REQUEST_OK, "reason": "x\x1b[31mred\x07"}, "reason"),
    (
        "request namespace with script",
        "post",
        "/api/v1/requests/",
        {**REQUEST_OK, "targets": [{"namespace": SCRIPT, "name": "web-1"}]},
        "targets",
    ),
    ("window label 10k", "post", "/api/v1/windows/", {**WINDOW_OK, "label": HUGE}, "label"),
    ("window bad time zone", "post", "/api/v1/windows/", {**WINDOW_OK, "timezone": "Mars/Olympus"}, "timezone"),
    ("window time zone with NUL", "post", "/api/v1/windows/", {**WINDOW_OK, "timezone": "UTC\x00"}, "timezone"),
    ("window weekday 7", "post", "/api/v1/windows/", {**WINDOW_OK, "weekdays": [7]}, "weekdays"),
    ("window weekday -1", "post", "/api/v1/windows/", {**WINDOW_OK, "weekdays": [-1]}, "weekdays"),
    ("window weekdays as string", "post", "/api/v1/windows/", {**WINDOW_OK, "weekdays": "monday"}, "weekdays"),
    ("window start 25:00", "post", "/api/v1/windows/", {**WINDOW_OK, "start_time": "25:00"}, "start_time"),
    (
        "window naive datetime",
        "post",
        "/api/v1/windows/",
        {"kind": "one_off", "starts_at": "2030-01-01T10:00:00", "ends_at": "2030-01-01T11:00:00"},
        "starts_at",
    ),
    ("window unknown field", "post", "/api/v1/windows/", {**WINDOW_OK, "owner": "root"}, "owner"),
    ("window time zone 10k", "post", "/api/v1/windows/", {**WINDOW_OK, "timezone": HUGE}, "timezone"),
    ("window weekdays nested lists", "post", "/api/v1/windows/", {**WINDOW_OK, "weekdays": [[0]]}, "weekdays"),
    ("endpoint name 10k", "post", "/api/v1/notification-endpoints/", {**ENDPOINT_OK, "name": HUGE}, "name"),
    (
        "webhook to metadata address",
        "post",
        "/api/v1/notification-endpoints/",
        {**ENDPOINT_OK, "url": "http://169.254.169.254/latest/meta-data/"},
        "url",
    ),
    (
        "webhook to link-local v6",
        "post",
        "/api/v1/notification-endpoints/",
        {**ENDPOINT_OK, "url": "https://[fe80::1]/hook"},
        "url",
    ),
    (
        "webhook file:// URL",
        "post",
        "/api/v1/notification-endpoints/",
        {**ENDPOINT_OK, "url": "file:///etc/passwd"},
        "url",
    ),
    (
        "webhook URL 10k",
        "post",
        "/api/v1/notification-endpoints/",
        {**ENDPOINT_OK, "url": "https://a.example/" + HUGE},
        "url",
    ),
    ("endpoint kind as int", "post", "/api/v1/notification-endpoints/", {**ENDPOINT_OK, "kind": 1}, "kind"),
]


@pytest.mark.parametrize(("method", "url", "body", "field"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_body_is_refused_naming_the_field(api, method, url, body, field):
    cluster = ClusterFactory()
    if url in ("/api/v1/requests/", "/api/v1/windows/") and "cluster" not in body:
        body = {**body, "cluster": cluster.pk}
    before = _counts()
    response = getattr(api, method)(url, body, format="json")
    assert response.status_code == 400, response.content[:500]
    assert field in response.json(), response.json()
    assert _counts() == before


RAW_CASES = [
    # (id, url, raw body, content type)
    ("non-UTF-8 body", "/api/v1/clusters/", b'{"name": "\xff\xfe"}', "application/json"),
    ("not JSON at all", "/api/v1/requests/", b"<xml/>", "application/json"),
    ("deeply nested JSON", "/api/v1/requests/", _nested(100_000).encode(), "application/json"),
    ("JSON list instead of object", "/api/v1/windows/", b"[1, 2, 3]", "application/json"),
    ("JSON null body", "/api/v1/notification-endpoints/", b"null", "application/json"),
    # Past DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB): Django's HTML 400 page, not the API's JSON, before the fix.
    ("body over the upload limit", "/api/v1/clusters/", b'{"name": "' + b"x" * (3 << 20) + b'"}', "application/json"),
]


@pytest.mark.parametrize(("url", "raw", "content_type"), [c[1:] for c in RAW_CASES], ids=[c[0] for c in RAW_CASES])
def test_api_raw_body_is_a_clear_400(api, url, raw, content_type):
    ClusterFactory()
    before = _counts()
    response = api.generic("POST", url, raw, content_type=content_type)
    assert response.status_code == 400, response.content[:500]
    assert response["Content-Type"] == "application/json", response.content[:500]
    assert response.json()
    assert _counts() == before


def test_very_long_url_query_is_not_a_5xx(api):
    response = api.get("/api/v1/requests/", {"namespace": "n" * 10_000, "pod": SCRIPT})
    assert response.status_code < 500
    if response.status_code == 400:
        assert "namespace" in response.json()


# ---- forms -------------------------------------------------------------------------------------------------------

FORM_CASES = [
    # (id, url, data, field with an error)
    (
        "form cluster name 10k",
        "/clusters/add/",
        {"source": "token", "name": HUGE, "api_url": "https://a.example", "token": "t", "qps_limit": 10},
        "name",
    ),
    (
        "form kubeconfig YAML bomb",
        "/clusters/add/",
        {"source": "kubeconfig", "name": "k", "kubeconfig": BILLION_LAUGHS, "qps_limit": 10},
        "kubeconfig",
    ),
    (
        "form kubeconfig nested 400 deep",
        "/clusters/add/",
        {"source": "kubeconfig", "name": "k", "kubeconfig": KUBECONFIG_DEEP, "qps_limit": 10},
        "kubeconfig",
    ),
    (
        "form kubeconfig exec",
        "/clusters/add/",
        {"source": "kubeconfig", "name": "k", "kubeconfig": KUBECONFIG_EXEC, "qps_limit": 10},
        "kubeconfig",
    ),
    (
        "form qps as text",
        "/clusters/add/",
        {"source": "token", "name": "ok", "api_url": "https://a.example", "token": "t", "qps_limit": "fast"},
        "qps_limit",
    ),
    (
        "form endpoint to metadata",
        "/notifications/add/",
        {
            "name": "hook",
            "kind": "webhook",
            "url": "http://169.254.169.254/",
            "events": ["started"],
            "blocked_after_minutes": 10,
        },
        "url",
    ),
    (
        "form endpoint name 10k",
        "/notifications/add/",
        {
            "name": HUGE,
            "kind": "webhook",
            "url": "https://hooks.example.com/",
            "events": ["started"],
            "blocked_after_minutes": 10,
        },
        "name",
    ),
]


@pytest.mark.parametrize(("url", "data", "field"), [c[1:] for c in FORM_CASES], ids=[c[0] for c in FORM_CASES])
def test_form_is_refused_naming_the_field(admin_client, url, data, field):
    before = _counts()
    response = admin_client.post(url, data)
    assert response.status_code == 200, response.status_code
    assert field in response.context["form"].errors, response.context["form"].errors
    assert _counts() == before
    assert SCRIPT not in response.content.decode()


WINDOW_FORM_CASES = [
    (
        "form window bad zone",
        {
            "kind": "recurring",
            "weekdays": ["0"],
            "start_time": "22:00",
            "end_time": "23:00",
            "timezone": "Nowhere/Land",
        },
        "timezone",
    ),
    (
        "form window weekday 9",
        {"kind": "recurring", "weekdays": ["9"], "start_time": "22:00", "end_time": "23:00", "timezone": "UTC"},
        "weekdays",
    ),
    (
        "form window label 10k",
        {
            "kind": "recurring",
            "weekdays": ["0"],
            "start_time": "22:00",
            "end_time": "23:00",
            "timezone": "UTC",
            "label": HUGE,
        },
        "label",
    ),
]


@pytest.mark.parametrize(("data", "field"), [c[1:] for c in WINDOW_FORM_CASES], ids=[c[0] for c in WINDOW_FORM_CASES])
def test_window_form_is_refused_naming_the_field(admin_client, data, field):
    cluster = ClusterFactory()
    before = _counts()
    response = admin_client.post(f"/clusters/{cluster.pk}/windows/add/", data)
    assert response.status_code == 200, response.status_code
    assert field in response.context["form"].errors, response.context["form"].errors
    assert _counts() == before


REQUEST_FORM_CASES = [
    ("form reason with control chars", {"reason": "a\x1b[2Jb", "targets": "default/web-1"}, "reason"),
    ("form reason 10k", {"reason": HUGE, "targets": "default/web-1"}, "reason"),
    ("form targets with script", {"reason": "maintenance", "targets": f"default/{SCRIPT}"}, "targets"),
]


@pytest.mark.parametrize(("data", "field"), [c[1:] for c in REQUEST_FORM_CASES], ids=[c[0] for c in REQUEST_FORM_CASES])
def test_request_form_is_refused_naming_the_field(admin_client, data, field):
    cluster = ClusterFactory()
    before = _counts()
    response = admin_client.post(
        "/requests/new/",
        {"cluster": cluster.pk, "kind": "pods", "deadline_minutes": 30, "schedule": "now", "action": "submit", **data},
    )
    assert response.status_code == 200, response.status_code
    assert field in response.context["form"].errors, response.context["form"].errors
    assert _counts() == before
    assert SCRIPT not in response.content.decode()


UPLOAD_CASES = [
    ("upload non-UTF-8 kubeconfig", b"clusters: \xff\xfe\xfa\n"),
    ("upload kubeconfig > size cap", KUBECONFIG_HUGE.encode()),
    ("upload binary garbage", bytes(range(256)) * 8),
    ("upload kubeconfig nested 400 deep", KUBECONFIG_DEEP.encode()),
]


@pytest.mark.parametrize("content", [c[1] for c in UPLOAD_CASES], ids=[c[0] for c in UPLOAD_CASES])
def test_kubeconfig_upload_is_refused_naming_the_field(admin_client, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = _counts()
    upload = SimpleUploadedFile("config", content, content_type="application/octet-stream")
    response = admin_client.post(
        "/clusters/add/", {"source": "kubeconfig", "name": "k", "qps_limit": 10, "kubeconfig_file": upload}
    )
    assert response.status_code == 200, response.status_code
    errors = response.context["form"].errors
    assert {"kubeconfig", "kubeconfig_file"} & set(errors), errors
    assert _counts() == before


def test_cluster_import_of_a_deeply_nested_kubeconfig_is_a_command_error_in_words(tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "config"
    path.write_text(KUBECONFIG_DEEP)
    before = _counts()
    with pytest.raises(CommandError, match="kubeconfig: The kubeconfig nests deeper than 32 levels"):
        call_command("cluster_import", "--kubeconfig", str(path), "--no-check")
    assert _counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": HUGE}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"qps_limit": [1]}, "qps_limit"),
        ({"owner": 1}, "owner"),
    ],
    ids=["patch name 10k", "patch name NUL", "patch qps as list", "patch unknown field"],
)
def test_cluster_patch_is_refused_and_nothing_changes(api, body, field):
    cluster = ClusterFactory()
    before = _counts()
    response = api.patch(f"/api/v1/clusters/{cluster.pk}/", body, format="json")
    assert response.status_code == 400, response.content[:500]
    assert field in response.json()
    assert _counts() == before
    assert Cluster.objects.get(pk=cluster.pk).name == cluster.name


def test_script_in_a_stored_window_label_renders_escaped(api, admin_client):
    cluster = ClusterFactory()
    response = api.post("/api/v1/windows/", {**WINDOW_OK, "cluster": cluster.pk, "label": SCRIPT}, format="json")
    assert response.status_code == 201, response.content
    shown = ""
    for page in ("/schedule/", f"/clusters/{cluster.pk}/"):
        html = admin_client.get(page).content.decode()
        assert SCRIPT not in html, page
        shown += html
    assert SCRIPT_ESCAPED in shown


# ---- cluster answers (tests/tlsserver.py) ------------------------------------------------------------------------


def _raw(status: int, body: bytes, **headers: str):
    return lambda handler: (status, {"Content-Type": "application/json", **headers}, body)


HUGE_BODY = b"[" + b" " * (20 * 1024 * 1024) + b"]"
ANSWERS = [
    # (id, answer, words expected in the error)
    ("20 MB body", _raw(200, HUGE_BODY), ("larger than", "did not answer with a list")),
    ("slow past the read timeout", slow_route(2.5, json_route(200, {"items": []})), ("did not answer in time",)),
    (
        "truncated body",
        _raw(200, b'{"kind": "PodList", "items": [{"metad', **{"Content-Length": "5000", "Connection": "close"}),
        ("without a complete answer",),
    ),
    ("non-JSON", _raw(200, b"<html><body>Welcome to nginx!</body></html>"), ("not json",)),
    ("302 redirect", _raw(302, b"", Location="https://evil.example/version"), ("redirect",)),
]


@pytest.fixture
def hostile_server():
    srv = TLSServer(kubernetes_routes(TOKEN))
    yield srv
    srv.stop()


def _cluster_on(server: TLSServer) -> Cluster:
    from clusters.models import Credentials

    return ClusterFactory(
        api_url=server.url, ca_pem=server.ca_pem, credentials_secret=Credentials(token=TOKEN).to_json()
    )


def _words(message: str, expected: tuple[str, ...]) -> None:
    assert message and any(word in message.lower() for word in expected), message


@override_settings(KUBE_READ_TIMEOUT_SECONDS=1)
@pytest.mark.parametrize(("answer", "expected"), [c[1:] for c in ANSWERS], ids=[c[0] for c in ANSWERS])
def test_cluster_answer_through_the_check_is_an_error_in_words(api, hostile_server, answer, expected):
    hostile_server.routes["/version"] = answer
    cluster = _cluster_on(hostile_server)
    before = _counts()
    response = api.post(f"/api/v1/clusters/{cluster.pk}/check/", format="json")
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["reachable"] is False
    _words(body["error"], expected)
    assert _counts() == {**before, "audit": before["audit"] + 1}  # the check itself is recorded, nothing else
    cluster.refresh_from_db()
    assert cluster.reachable is False and cluster.server_version == ""


@override_settings(KUBE_READ_TIMEOUT_SECONDS=1)
@pytest.mark.parametrize(("answer", "expected"), [c[1:] for c in ANSWERS], ids=[c[0] for c in ANSWERS])
def test_cluster_answer_through_the_pods_listing_is_an_error_in_words(api, hostile_server, answer, expected):
    hostile_server.routes["/api/v1/pods"] = answer
    cluster = _cluster_on(hostile_server)
    before = _counts()
    response = api.get(f"/api/v1/clusters/{cluster.pk}/pods/")
    assert response.status_code == 502, response.content[:500]  # the cluster's fault, said in words
    body = response.json()
    _words(json.dumps(body), expected)
    assert _counts() == before


# ---- values from the cluster are escaped on the pages ------------------------------------------------------------


def _hostile_pod(namespace: str) -> dict:
    return {
        "metadata": {"namespace": namespace, "name": IMG, "uid": "u-1", "labels": {"app": IMG}},
        "spec": {"nodeName": IMG},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _hostile_pdb(namespace: str) -> dict:
    return {
        "metadata": {"namespace": namespace, "name": IMG, "uid": "p-1"},
        "spec": {"selector": {"matchLabels": {"app": IMG}}, "minAvailable": 1},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1},
    }


def test_cluster_values_render_escaped_in_the_pod_picker(admin_client, hostile_server):
    hostile_server.routes["/api/v1/pods"] = json_route(200, {"items": [_hostile_pod("default"), _hostile_pod(IMG)]})
    cluster = _cluster_on(hostile_server)
    html = admin_client.get("/requests/pods/", {"cluster": cluster.pk}).content.decode()
    assert IMG not in html
    assert IMG_ESCAPED in html


def test_cluster_values_render_escaped_on_the_budgets_page(admin_client, hostile_server):
    hostile_server.routes["/apis/policy/v1/poddisruptionbudgets"] = json_route(
        200, {"items": [_hostile_pdb("default")]}
    )
    hostile_server.routes["/api/v1/namespaces/default/pods"] = json_route(200, {"items": [_hostile_pod("default")]})
    cluster = _cluster_on(hostile_server)
    response = admin_client.get(f"/clusters/{cluster.pk}/pdbs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert IMG not in html
    assert IMG_ESCAPED in html


def test_cluster_error_text_renders_escaped(admin_client, hostile_server):
    """A Status message from the cluster (its words, not ours) shown on the budgets page."""
    hostile_server.routes["/apis/policy/v1/poddisruptionbudgets"] = json_route(
        403, {"kind": "Status", "status": "Failure", "message": IMG, "reason": "Forbidden", "code": 403}
    )
    cluster = _cluster_on(hostile_server)
    response = admin_client.get(f"/clusters/{cluster.pk}/pdbs/")
    assert response.status_code == 200
    assert IMG not in response.content.decode()


def test_script_in_a_stored_request_reason_renders_escaped(api, admin_client, hostile_server):
    pod = {
        "metadata": {
            "namespace": "default",
            "name": "web-1",
            "uid": "u-1",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "controller": True}],
        },
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    hostile_server.routes["/api/v1/namespaces/default/pods"] = json_route(200, {"items": [pod]})
    hostile_server.routes["/api/v1/pods"] = json_route(200, {"items": [pod]})
    hostile_server.routes["/api/v1/namespaces/default/pods/web-1"] = json_route(200, pod)
    hostile_server.routes["/apis/policy/v1/namespaces/default/poddisruptionbudgets"] = json_route(200, {"items": []})
    cluster = _cluster_on(hostile_server)
    response = api.post("/api/v1/requests/", {**REQUEST_OK, "cluster": cluster.pk, "reason": SCRIPT}, format="json")
    assert response.status_code == 201, response.content[:500]
    pk = response.json()["id"]
    for page in (f"/requests/{pk}/", "/requests/", "/audit/", "/"):
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert SCRIPT not in response.content.decode(), page
    assert SCRIPT_ESCAPED in admin_client.get(f"/requests/{pk}/").content.decode()


def test_script_in_a_stored_endpoint_name_renders_escaped(api, admin_client):
    response = api.post("/api/v1/notification-endpoints/", {**ENDPOINT_OK, "name": SCRIPT}, format="json")
    if response.status_code == 400:  # refusing the name is as good as escaping it
        assert "name" in response.json()
        return
    assert response.status_code == 201, response.content[:500]
    for page in ("/notifications/", "/audit/"):
        html = admin_client.get(page).content.decode()
        assert SCRIPT not in html, page
    assert SCRIPT_ESCAPED in admin_client.get("/notifications/").content.decode()


# ---- out-of-range integers (issue 13 item 2) ---------------------------------------------------------------------
# Past 2**63-1 SQLite raised OverflowError and PostgreSQL a DataError: a 500 any viewer could cause.

HUGE_INT = "99999999999999999999999"
JUST_PAST_BIGINT = str(2**63)

API_FILTER_CASES = [
    # (url, field named in the 400)
    (f"/api/v1/requests/?cluster={HUGE_INT}", "cluster"),
    (f"/api/v1/requests/?cluster={JUST_PAST_BIGINT}", "cluster"),
    (f"/api/v1/requests/?offset={HUGE_INT}", "offset"),
    (f"/api/v1/requests/?limit={HUGE_INT}", "limit"),
    (f"/api/v1/requests/?answer={HUGE_INT}", "answer"),
    (f"/api/v1/evictions/?cluster={HUGE_INT}", "cluster"),
    (f"/api/v1/audit/?request={HUGE_INT}", "request"),
    (f"/api/v1/windows/?cluster={HUGE_INT}", "cluster"),
    (f"/api/v1/windows/?offset={HUGE_INT}", "offset"),
    (f"/api/v1/notification-deliveries/?endpoint={HUGE_INT}", "endpoint"),
    (f"/api/v1/notification-deliveries/?request={HUGE_INT}", "request"),
    ("/api/v1/requests/?cluster=1.5", "cluster"),
    ("/api/v1/requests/?cluster=-1", "cluster"),
]


@pytest.mark.parametrize(("url", "field"), API_FILTER_CASES, ids=[c[0] for c in API_FILTER_CASES])
def test_api_integer_filter_out_of_range_is_a_400_naming_it(api, url, field):
    response = api.get(url)
    assert response.status_code == 400, response.content[:500]
    assert field in response.json(), response.json()


def test_api_audit_cluster_filter_of_huge_digits_matches_nothing_instead_of_failing(api):
    ClusterFactory()
    response = api.get(f"/api/v1/audit/?cluster={HUGE_INT}")
    assert response.status_code == 200, response.content[:500]
    assert response.json()["results"] == []


API_PATH_CASES = [
    ("get", "/api/v1/requests/{}/"),
    ("post", "/api/v1/requests/{}/approve/"),
    ("get", "/api/v1/evictions/{}/"),
    ("post", "/api/v1/evictions/{}/skip/"),
    ("get", "/api/v1/clusters/{}/"),
    ("post", "/api/v1/clusters/{}/check/"),
    ("get", "/api/v1/windows/{}/"),
    ("get", "/api/v1/policies/{}/"),
    ("get", "/api/v1/notification-endpoints/{}/"),
]


@pytest.mark.parametrize("number", [HUGE_INT, JUST_PAST_BIGINT, "0"])
@pytest.mark.parametrize(("method", "url"), API_PATH_CASES, ids=[f"{m} {u}" for m, u in API_PATH_CASES])
def test_api_path_id_out_of_range_is_a_404(api, method, url, number):
    response = getattr(api, method)(url.format(number), {}, format="json")
    assert response.status_code == 404, response.content[:500]
    assert response.json()


PAGE_FILTER_CASES = [
    # (url, form field with the error)
    (f"/audit/?request={HUGE_INT}", "request"),
    (f"/requests/?cluster={HUGE_INT}", "cluster"),
    (f"/evictions/?cluster={HUGE_INT}", "cluster"),
    (f"/notifications/deliveries/?endpoint={HUGE_INT}", "endpoint"),
    (f"/requests/?answer={HUGE_INT}", "answer"),
]


@pytest.mark.parametrize(("url", "field"), PAGE_FILTER_CASES, ids=[c[0] for c in PAGE_FILTER_CASES])
def test_page_integer_filter_out_of_range_is_a_form_error(admin_client, url, field):
    response = admin_client.get(url)
    assert response.status_code in (200, 400), response.status_code
    assert field in response.context["form"].errors, response.context["form"].errors


PAGE_PATH_CASES = [
    ("get", "/requests/{}/"),
    ("post", "/requests/{}/pause/"),
    ("get", "/requests/{}/timeline/"),
    ("post", "/evictions/{}/retry/"),
    ("get", "/clusters/{}/"),
    ("get", "/clusters/{}/pdbs/"),
    ("get", "/clusters/windows/{}/edit/"),
    ("get", "/notifications/{}/edit/"),
]


@pytest.mark.parametrize("number", [HUGE_INT, JUST_PAST_BIGINT])
@pytest.mark.parametrize(("method", "url"), PAGE_PATH_CASES, ids=[f"{m} {u}" for m, u in PAGE_PATH_CASES])
def test_page_path_id_out_of_range_is_a_404(admin_client, method, url, number):
    response = getattr(admin_client, method)(url.format(number))
    assert response.status_code == 404, response.status_code


BODY_ID_CASES = [
    # (url, body without the cluster, the cluster's id as sent)
    ("/api/v1/requests/", REQUEST_OK, int(HUGE_INT)),
    ("/api/v1/requests/", REQUEST_OK, 2**63),
    ("/api/v1/requests/", REQUEST_OK, 1.5),  # was taken as cluster 1
    ("/api/v1/requests/", REQUEST_OK, True),
    ("/api/v1/requests/", REQUEST_OK, "1.5"),
    ("/api/v1/requests/", REQUEST_OK, [1]),
    ("/api/v1/windows/", WINDOW_OK, int(HUGE_INT)),
    ("/api/v1/windows/", WINDOW_OK, 1.5),
    ("/api/v1/notification-endpoints/", ENDPOINT_OK, int(HUGE_INT)),
    ("/api/v1/notification-endpoints/", ENDPOINT_OK, 1.5),
]


@pytest.mark.parametrize(("url", "body", "cluster"), BODY_ID_CASES, ids=[f"{c[0]} {c[2]!r}" for c in BODY_ID_CASES])
def test_api_body_cluster_id_that_is_not_a_whole_id_is_a_400(api, url, body, cluster):
    ClusterFactory(pk=1)
    before = _counts()
    response = api.post(url, {**body, "cluster": cluster}, format="json")
    assert response.status_code == 400, response.content[:500]
    assert "cluster" in response.json(), response.json()
    assert _counts() == before
