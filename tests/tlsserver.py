"""A small HTTPS server with its own private CA, for connectivity tests of cases a simulator does not cover
(wrong CA, wrong host name, redirects, non-Kubernetes answers, slow answers)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str = "test-ca") -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_leaf(
    ca_key, ca_cert, *, dns: list[str], ips: list[str]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns] + [
        x509.IPAddress(ipaddress.ip_address(i)) for i in ips
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns[0] if dns else ips[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


def json_route(status: int, body: object) -> Route:
    return lambda handler: (status, {"Content-Type": "application/json"}, json.dumps(body).encode())


KUBE_VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.2", "platform": "linux/amd64"}
CORE_V1 = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["get", "list", "delete"]},
        {
            "name": "pods/eviction",
            "namespaced": True,
            "group": "policy",
            "version": "v1",
            "kind": "Eviction",
            "verbs": ["create"],
        },
    ],
}
APIS = {
    "kind": "APIGroupList",
    "groups": [{"name": "policy", "versions": [{"groupVersion": "policy/v1", "version": "v1"}]}],
}


def kubernetes_routes(token: str) -> dict[str, Route]:
    def authed(route: Route) -> Route:
        def handle(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
            if handler.headers.get("Authorization") != f"Bearer {token}":
                return json_route(401, {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401})(
                    handler
                )
            return route(handler)

        return handle

    return {
        "/version": authed(json_route(200, KUBE_VERSION)),
        "/api/v1": authed(json_route(200, CORE_V1)),
        "/apis": authed(json_route(200, APIS)),
    }


@dataclass
class TLSServer:
    routes: dict[str, Route]
    dns: list[str] = field(default_factory=lambda: ["localhost"])
    ips: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    client_ca_pem: str = ""  # when set, the server demands a client certificate signed by this CA

    def __post_init__(self) -> None:
        self.ca_key, self.ca_cert = make_ca()
        self.ca_pem = pem(self.ca_cert)
        leaf_key, leaf_cert = make_leaf(self.ca_key, self.ca_cert, dns=self.dns, ips=self.ips)
        self._dir = tempfile.TemporaryDirectory()
        chain = Path(self._dir.name) / "server.pem"
        chain.write_text(pem(leaf_cert) + key_pem(leaf_key))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain)
        if self.client_ca_pem:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self.client_ca_pem)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                path = self.path.split("?")[0]
                server.requests.append((self.command, self.path, dict(self.headers)))
                route = server.routes.get(path)
                if route is None:
                    status, headers, body = 404, {"Content-Type": "text/plain"}, b"404 page not found"
                else:
                    status, headers, body = route(self)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers:  # a route may announce more than it sends (a truncated answer)
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = do_PATCH = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._dir.cleanup()


def slow_route(seconds: float, then: Route) -> Route:
    def handle(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        time.sleep(seconds)
        return then(handler)

    return handle


def kubeconfig_for(server: TLSServer, user: dict, context: str = "test") -> str:
    """A kubeconfig (YAML) whose one context points at the server with its CA and the given user entry."""
    import base64

    import yaml

    ca_data = base64.b64encode(server.ca_pem.encode()).decode()
    return yaml.safe_dump(
        {
            "clusters": [{"name": "c", "cluster": {"server": server.url, "certificate-authority-data": ca_data}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
            "current-context": context,
        }
    )
