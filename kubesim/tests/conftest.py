"""Fixtures for kubesim tests: running simulators and official-client API objects for them."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesim import Simulator


@pytest.fixture
def demo() -> Iterator[Simulator]:
    """The demo cluster with time running 10x faster (grace 30 s -> 3 s)."""
    with Simulator(scenario="demo", time_scale=10) as sim:
        yield sim


@pytest.fixture
def fast_demo() -> Iterator[Simulator]:
    """The demo cluster with time running 100x faster, for controller tests."""
    with Simulator(scenario="demo", time_scale=100) as sim:
        yield sim


def api_client(sim: Simulator, tmp_path: Path, token: str | None = None) -> Any:
    """An official-client ApiClient for the simulator, verifying TLS against its CA."""
    kubernetes = pytest.importorskip("kubernetes")
    ca = tmp_path / f"ca-{sim.port}.crt"
    ca.write_text(sim.ca_pem)
    cfg = kubernetes.client.Configuration()
    cfg.host = sim.url
    cfg.ssl_ca_cert = str(ca)
    cfg.verify_ssl = True
    cfg.api_key = {"authorization": token or sim.token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    cfg.retries = False
    return kubernetes.client.ApiClient(cfg)


@pytest.fixture
def core(demo: Simulator, tmp_path: Path) -> Any:
    kubernetes = pytest.importorskip("kubernetes")
    return kubernetes.client.CoreV1Api(api_client(demo, tmp_path))


@pytest.fixture
def policy(demo: Simulator, tmp_path: Path) -> Any:
    kubernetes = pytest.importorskip("kubernetes")
    return kubernetes.client.PolicyV1Api(api_client(demo, tmp_path))


class Raw:
    """A keep-alive HTTPS client for exact-bytes requests."""

    def __init__(self, sim: Simulator) -> None:
        ctx = ssl.create_default_context(cadata=sim.ca_pem)
        self.conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=ctx, timeout=10)
        self.sim = sim

    def request(
        self, method: str, path: str, body: Any = None, *, token: bool = True, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        hdrs = {"Accept": "application/json"}
        if token:
            hdrs["Authorization"] = f"Bearer {self.sim.token}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        try:
            parsed: Any = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def raw(demo: Simulator) -> Iterator[Raw]:
    client = Raw(demo)
    yield client
    client.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def pod_named(sim: Simulator, namespace: str, prefix: str, node: str | None = None) -> list[str]:
    return sorted(
        p["name"]
        for p in sim.state()["pods"]
        if p["namespace"] == namespace and p["name"].startswith(prefix) and (node is None or p["node"] == node)
    )


def eviction_body(name: str, namespace: str, api_version: str = "policy/v1", **options: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    }
    if options:
        body["deleteOptions"] = options
    return body
