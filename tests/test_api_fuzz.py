"""API fuzzing (issue 7 item 3): schemathesis generates requests for every operation in /api/schema/, as an admin and
as a viewer, in-process through the WSGI app; no answer is a 5xx and every answer matches the schema (a documented
status code, its content type, its body schema).

The seeded cluster is a real kubesim on 127.0.0.1, so detail routes and the calls that reach a cluster (check, live
pods and budgets, dry runs, force delete) do real work; no generated request may reach any other host (see
_cluster_urls_point_at_the_sim and _only_loopback). Celery tasks are enqueued on commit, and these tests run inside
a transaction that is rolled back, so no fuzzed write leaves a message on the broker.
"""

from __future__ import annotations

import copy
import ipaddress
import socket
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from evictions.models import EvictionRequest, MaintenanceWindow, PodEviction, RequestStatus
from evictions.services.requests import request_start
from kubesim import Simulator
from notifications.models import NotificationEndpoint
from tests.factories import UserFactory
from tests.kubesim_cluster import register_sim

# Loading the schema at import fails collection loudly if /api/schema/ is not valid OpenAPI.
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Hostile values every operation also gets (issue 13): integers past the 64-bit range the databases hold, ids that
# match the route but no row or no database integer, and a kubeconfig nested deeper than any reader should recurse.
OUT_OF_RANGE = [2**63, 10**23, -1, -(2**63) - 1]
HOSTILE_IDS = ["999999999999999999", "9223372036854775808", "99999999999999999999999"]
DEEP_YAML = "a: " + "[" * 400 + "]" * 400
CLUSTER_ID_BODIES = {"POST /api/v1/requests/", "POST /api/v1/windows/", "POST /api/v1/notification-endpoints/"}
KUBECONFIG_BODIES = {"POST /api/v1/clusters/", "PATCH /api/v1/clusters/{id}/"}
# Examples per operation and role: the module runs in about a minute on two cores.
EXAMPLES = {"admin": 50, "viewer": 15}
FUZZ_SETTINGS = hypothesis_settings(
    derandomize=True,  # the same examples on every run: CI failures reproduce
    database=None,  # no example database: every run starts from the same examples
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    print_blob=False,
)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def world(db, sim):
    """One of everything a detail route can name, on a cluster that answers."""
    alice = UserFactory(username="alice", roles=["admin"])
    vera = UserFactory(username="vera", roles=["viewer"])
    owner = UserFactory(username="owner", roles=["requester"])
    cluster = register_sim(sim)
    now = timezone.now()
    client = APIClient()
    client.force_authenticate(alice)
    body = {
        "cluster": cluster.pk,
        "kind": "pods",
        "reason": "move web",
        "targets": [{"namespace": "shop", "selector": "app=web"}],
    }
    created = client.post("/api/v1/requests/", body, format="json")
    assert created.status_code == 201, created.content
    request_start(request_id=created.json()["id"])  # pod rows for the real shop/web pods, as the worker makes them
    running = EvictionRequest.objects.get(pk=created.json()["id"])
    assert running.status == RequestStatus.RUNNING and running.pods.count() == 3
    awaiting = EvictionRequest.objects.create(
        cluster=cluster,
        requester=owner,
        kind="drain",
        node="node-3",
        reason="kernel",
        status=RequestStatus.AWAITING_APPROVAL,
    )
    window = MaintenanceWindow.objects.create(
        cluster=cluster, kind="one_off", starts_at=now, ends_at=now + timedelta(hours=4), label="w"
    )
    endpoint = NotificationEndpoint.objects.create(
        name="mail", kind="email", emails="a@example.com", events=["approval_requested"], cluster=cluster
    )
    return {
        "sim": sim,
        "cluster": cluster,
        "tokens": {"admin": Token.objects.create(user=alice).key, "viewer": Token.objects.create(user=vera).key},
        "ids": {
            "clusters": [cluster.pk],
            "requests": [running.pk, awaiting.pk],
            "evictions": list(PodEviction.objects.filter(request=running).values_list("pk", flat=True)),
            "windows": [window.pk],
            "notification-endpoints": [endpoint.pk],
            "policies": [str(cluster.pk), "default"],
            "audit": ["csv", "json"],
        },
    }


@pytest.fixture
def _keep_the_test_connection():
    """The WSGI handler closes the database connection after each request; Django's test client keeps it (the
    test's transaction lives on it), and so must the WSGI app here."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def _only_loopback(monkeypatch):
    """A fuzzed URL must never make Drainboard resolve or connect to another host: fail the test if it tries."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def loopback(host: Any) -> bool:
        if host in ("localhost", "127.0.0.1", "::1"):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def getaddrinfo(host, *args, **kwargs):
        assert loopback(host), f"a fuzzed request resolved {host!r}"
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            assert loopback(address[0]), f"a fuzzed request connected to {address!r}"
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


def _cluster_urls_point_at_the_sim(case, world) -> None:
    """Cluster create and update take a server URL (or a kubeconfig naming one) and connect to it. Any other host
    would be real network traffic, so the URL is always the sim's; what a URL may be is covered, without
    connecting, by clusters/tests/test_validation.py and tests/test_hostile_input.py."""
    creates = case.method == "POST" and case.path == "/api/v1/clusters/"
    updates = case.method == "PATCH" and case.path == "/api/v1/clusters/{id}/"
    if not (creates or updates) or not isinstance(case.body, dict):
        return
    if case.body.get("kubeconfig") == DEEP_YAML:
        return  # refused while it is read, before any connection: kept as it is
    sim = world["sim"]
    if creates or "api_url" in case.body:
        case.body["api_url"] = sim.url
        case.body["ca_pem"] = sim.ca_pem
    if "kubeconfig" in case.body:
        case.body["kubeconfig"] = ""


def _on_the_seeded_cluster(case, world):
    """A body naming a cluster names the seeded one, so writes get past "No cluster with id" to the real work."""
    if isinstance(case.body, dict) and "cluster" in case.body:
        case.body["cluster"] = world["cluster"].pk
    return case


def _valid_bodies(world) -> dict[str, list[dict[str, Any]]]:
    """Random bodies almost never pass the create operations' checks; these do, so their 201 and 200 answers (a
    created request, a dry run's plan, a checked cluster) are fuzzed and validated too."""
    cluster, sim = world["cluster"].pk, world["sim"]
    web = [{"namespace": "shop", "selector": "app=web"}]
    return {
        "POST /api/v1/requests/": [
            {"cluster": cluster, "kind": "drain", "node": "node-2", "reason": "r", "dry_run": True},
            {"cluster": cluster, "kind": "pods", "reason": "r", "targets": web, "dry_run": True},
            {"cluster": cluster, "kind": "pods", "reason": "r", "targets": web},
        ],
        "POST /api/v1/windows/": [
            {
                "cluster": cluster,
                "kind": "one_off",
                "starts_at": "2030-01-01T00:00:00Z",
                "ends_at": "2030-01-01T04:00:00Z",
            }
        ],
        "POST /api/v1/notification-endpoints/": [
            {"name": "n", "kind": "email", "emails": "b@example.com", "events": ["approval_requested"]}
        ],
        "POST /api/v1/clusters/": [{"name": "fuzzed", "api_url": sim.url, "ca_pem": sim.ca_pem, "token": sim.token}],
    }


def _hostile(operation, world):
    """Out-of-range integers in each integer query parameter and in a body's cluster id, hostile ids in the path,
    and the deep kubeconfig on the cluster writes: each must be a documented 4xx, never a 5xx."""
    strategies = []
    for parameter in operation.query:
        if parameter.definition.get("schema", {}).get("type") == "integer":
            strategies.append(
                st.sampled_from(OUT_OF_RANGE).flatmap(
                    lambda value, name=parameter.name: operation.as_strategy(
                        GenerationMode.POSITIVE, query={name: value}
                    )
                )
            )
    names = [parameter.name for parameter in operation.path_parameters]
    if names and names[0] == "id":
        strategies.append(
            st.sampled_from(HOSTILE_IDS).flatmap(
                lambda pk: operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"id": pk})
            )
        )
    for body in _valid_bodies(world).get(operation.label, []) if operation.label in CLUSTER_ID_BODIES else []:
        strategies.append(
            st.sampled_from([*OUT_OF_RANGE, 1.5]).flatmap(
                lambda pk, body=body: operation.as_strategy(
                    GenerationMode.POSITIVE, body={**copy.deepcopy(body), "cluster": pk}
                )
            )
        )
    if operation.label in KUBECONFIG_BODIES:
        deep = {"name": "deep", "kubeconfig": DEEP_YAML}
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, body=deep))
    return strategies


def _strategy(operation, world):
    """Positive and negative cases; for a detail route, as many again name a seeded object so the view does work;
    positive bodies that name a cluster name the seeded one; a create operation also gets known-good bodies."""
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    strategies.append(
        operation.as_strategy(GenerationMode.POSITIVE).map(lambda case: _on_the_seeded_cluster(case, world))
    )
    bodies = _valid_bodies(world).get(operation.label)
    if bodies:
        strategies.append(
            st.sampled_from(bodies).flatmap(
                lambda body: operation.as_strategy(GenerationMode.POSITIVE, body=copy.deepcopy(body))
            )
        )
    names = [parameter.name for parameter in operation.path_parameters]
    if names:
        segment = operation.path.split("/")[3]
        seeded = st.sampled_from(world["ids"][segment])
        strategies += [
            seeded.flatmap(lambda pk, mode=mode: operation.as_strategy(mode, path_parameters={names[0]: pk}))
            for mode in modes
        ]
    return st.one_of(strategies)


def test_the_schema_is_valid_openapi_with_every_operation():
    # from_wsgi raised at import if the document is not OpenAPI; each operation must also resolve on its own.
    results = list(SCHEMA.get_all_operations())
    assert all(result.ok() for result in results)
    assert len(OPERATIONS) >= 40


@pytest.mark.parametrize("role", ["admin", "viewer"])
@pytest.mark.parametrize("label", [operation.label for operation in OPERATIONS])
def test_fuzz(world, _keep_the_test_connection, _only_loopback, role, label):
    operation = SCHEMA.find_operation_by_label(label)
    headers = {"Authorization": f"Token {world['tokens'][role]}"}

    @hypothesis_settings(FUZZ_SETTINGS, max_examples=EXAMPLES[role])
    @given(case=_strategy(operation, world))
    def run(case):
        _cluster_urls_point_at_the_sim(case, world)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def _has_hostile_cases(operation) -> bool:
    integers = any(p.definition.get("schema", {}).get("type") == "integer" for p in operation.query)
    ids = [p.name for p in operation.path_parameters] == ["id"]
    return integers or ids or operation.label in CLUSTER_ID_BODIES | KUBECONFIG_BODIES


@pytest.mark.parametrize("label", [operation.label for operation in OPERATIONS if _has_hostile_cases(operation)])
def test_fuzz_hostile_values(world, _keep_the_test_connection, _only_loopback, label):
    """Every operation that takes an integer, an id or a body, with only the hostile values (so each is sent, not
    left to chance among the random cases): a documented 4xx or 2xx, never a 5xx."""
    operation = SCHEMA.find_operation_by_label(label)
    strategies = _hostile(operation, world)
    headers = {"Authorization": f"Token {world['tokens']['admin']}"}
    sent: list[Any] = []

    @hypothesis_settings(FUZZ_SETTINGS, max_examples=30)
    @given(case=st.one_of(strategies))
    def run(case):
        _cluster_urls_point_at_the_sim(case, world)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        sent.append(response.status_code)

    run()
    assert sent and all(code < 500 for code in sent)
