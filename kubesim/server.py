"""HTTPS front end: Kubernetes API routing, watches, authentication, faults, and the control API."""

from __future__ import annotations

import base64
import bisect
import email.utils
import http
import json
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from kubesim import builders as b
from kubesim import discovery, patch, tables
from kubesim import objects as o
from kubesim.eviction import delete_pod, evict
from kubesim.selectors import SelectorError, matches_all, parse_field_selector, parse_label_selector

if TYPE_CHECKING:
    from kubesim.simulator import Simulator

Obj = dict[str, Any]
PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}
MAX_BODY = 8 * 1024 * 1024
DEFAULT_WATCH_SECONDS = 1800
GROUP_OF = {
    "pods": "",
    "nodes": "",
    "namespaces": "",
    "replicasets": "apps",
    "statefulsets": "apps",
    "daemonsets": "apps",
    "poddisruptionbudgets": "policy",
}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class KubeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False  # keep-alive and watch threads end when their sockets are shut
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(sock)
            else:
                self._connections.discard(sock)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Failed TLS handshakes and reset connections are the client's business, not ours.
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this
    server: KubeHTTPServer

    # --- connection ------------------------------------------------------------------------

    def setup(self) -> None:
        raw: socket.socket = self.request
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(10)
        # The handshake runs here, in the connection's own thread, not in the accept loop.
        self.request = self.server.sim.ssl_context.wrap_socket(raw, server_side=True)
        self.server.track(self.request, True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.track(self.request, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is kept in memory (/_kubesim/requests), not on stderr

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines and unknown verbs get a Status body, not the stdlib's HTML."""
        self.close_connection = True
        if code == 501:  # an HTTP method we have no handler for at all
            body = o.method_not_allowed()
        else:
            reason = {
                400: "BadRequest",
                408: "Timeout",
                413: "RequestEntityTooLarge",
                414: "RequestURITooLong",
                431: "BadRequest",
            }.get(code, "InternalError")
            body = o.status_failure(code, reason, message or http.HTTPStatus(code).phrase)
        try:
            self._send_status(body)
        except OSError:
            pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    # --- plumbing --------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self, code: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        self.status_code = code
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
        head = [
            f"HTTP/1.1 {code} {phrase}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            "Cache-Control: no-cache, private",
            f"Date: {email.utils.formatdate(usegmt=True)}",
        ]
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}")
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        # One write per response: fewer TLS records and syscalls on the hot path.
        self.wfile.write(data if getattr(self, "command", None) == "HEAD" else data + body)

    def _send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(code, _dumps(obj), headers=headers)

    def _send_status(self, status: Obj, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        retry = (status.get("details") or {}).get("retryAfterSeconds")
        if retry:
            headers.setdefault("Retry-After", str(retry))
        self._send_json(int(status["code"]), status, headers)

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        self.status_code = 0
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        sim = self.server.sim
        control = path == "/_kubesim" or path.startswith("/_kubesim/")
        try:
            try:
                body = self._read_body()
            except ValueError as exc:
                self.close_connection = True
                self._send_status(o.bad_request(str(exc)))
                return
            if control:
                self._control(method, path, query, body)
            else:
                self._api_entry(method, path, query, body)
        except (ConnectionError, TimeoutError, BrokenPipeError):
            self.close_connection = True
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            try:
                self._send_status(o.internal_error(f"kubesim: {type(exc).__name__}: {exc}"))
            except OSError:
                pass
        finally:
            if not control:
                sim.log_request(
                    {
                        "time": o.now_iso(),
                        "method": method,
                        "path": path,
                        "query": url.query,
                        "status": self.status_code,
                        "userAgent": self.headers.get("User-Agent", ""),
                        "durationMs": round((time.perf_counter() - started) * 1000, 3),
                    }
                )

    # --- API ---------------------------------------------------------------------------------

    def _api_entry(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        sim = self.server.sim
        auth = self.headers.get("Authorization")
        if auth is not None or path not in PUBLIC_PATHS:
            if not sim.token_ok(auth):
                self._send_status(o.unauthorized())
                return
        latency, fault = sim.take_fault(method, path)
        if latency:
            time.sleep(latency)
        if fault is not None:
            if fault.type == "drop":
                self.close_connection = True
                self.status_code = -1  # no answer at all
                try:
                    self.request.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self._send_status(sim.fault_status(fault, path))
            return
        self._api(method, path, query, body)

    def _api(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        store = self.server.sim.store
        segs = [s for s in path.split("/") if s]
        if not segs:
            return self._only_get(
                method,
                lambda: self._send_json(
                    200, {"paths": ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/healthz", "/version"]}
                ),
            )
        head = segs[0]
        if head == "version" and len(segs) == 1:
            return self._only_get(method, lambda: self._send_json(200, discovery.version_info(store)))
        if head in ("healthz", "livez", "readyz") and len(segs) == 1:
            return self._only_get(method, lambda: self._send(200, b"ok", "text/plain; charset=utf-8"))
        if head == "api":
            if len(segs) == 1:
                host = self.headers.get("Host", "127.0.0.1")
                return self._only_get(method, lambda: self._send_json(200, discovery.api_versions(host)))
            if segs[1] != "v1":
                return self._send_status(o.path_not_found())
            if len(segs) == 2:
                doc = discovery.resource_list(store, "", "v1")
                return self._only_get(method, lambda: self._send_json(200, doc))
            return self._resource(method, "", "v1", segs[2:], query, body)
        if head == "apis":
            if len(segs) == 1:
                return self._only_get(method, lambda: self._send_json(200, discovery.group_list(store)))
            if len(segs) == 2:
                grp = discovery.group(store, segs[1])
                if grp is None:
                    return self._send_status(o.path_not_found())
                return self._only_get(method, lambda: self._send_json(200, grp))
            doc = discovery.resource_list(store, segs[1], segs[2])
            if doc is None:
                return self._send_status(o.path_not_found())
            if len(segs) == 3:
                return self._only_get(method, lambda: self._send_json(200, doc))
            return self._resource(method, segs[1], segs[2], segs[3:], query, body)
        return self._send_status(o.path_not_found())

    def _only_get(self, method: str, answer: Any) -> None:
        if method not in ("GET", "HEAD"):
            return self._send_status(o.method_not_allowed())
        answer()

    def _resource(
        self, method: str, group: str, version: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> None:
        store = self.server.sim.store
        known = {r[0]: r for r in discovery.served(store)[(group, version)]}
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in known and known[rest[2]][2]:
            namespace, rest = rest[1], rest[2:]
        resource = rest[0]
        if resource not in known or len(rest) > 3:
            return self._send_status(o.path_not_found())
        _, kind, namespaced, _, verbs = known[resource]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if (namespace is not None and not namespaced) or (namespaced and name and namespace is None):
            return self._send_status(o.path_not_found())
        api_version = f"{group}/{version}" if group else version
        if name is None:
            if method not in ("GET", "HEAD"):
                return self._send_status(o.method_not_allowed())
            if _flag(query, "watch"):
                return self._watch(resource, api_version, namespace, query)
            return self._list(resource, kind, api_version, namespace, query)
        ns = namespace or ""
        if sub is None:
            if method in ("GET", "HEAD"):
                return self._get(resource, api_version, ns, name)
            if method == "PATCH" and "patch" in verbs:
                return self._patch(resource, api_version, ns, name, body)
            if method == "DELETE" and "delete" in verbs:
                return self._delete_pod(ns, name, query, body)
            return self._send_status(o.method_not_allowed())
        if resource == "pods" and sub == "eviction":
            if method != "POST":
                return self._send_status(o.method_not_allowed())
            return self._evict(ns, name, query, body)
        if resource == "pods" and sub == "status":
            if method not in ("GET", "HEAD"):
                return self._send_status(o.method_not_allowed())
            return self._get(resource, api_version, ns, name)
        return self._send_status(o.path_not_found())

    def _serve_obj(self, obj: Obj, api_version: str) -> Obj:
        if obj.get("apiVersion") != api_version:
            return {**obj, "apiVersion": api_version}  # e.g. a PDB read through policy/v1beta1
        return obj

    def _list(
        self, resource: str, kind: str, api_version: str, namespace: str | None, query: dict[str, list[str]]
    ) -> None:
        sim = self.server.sim
        store = sim.store
        try:
            labels = parse_label_selector(_param(query, "labelSelector"))
            fields = parse_field_selector(_param(query, "fieldSelector"), resource)
            limit = _limit(_param(query, "limit"))
            token = _param(query, "continue") or ""
            start = decode_continue(token) if token else None
        except (SelectorError, ValueError) as exc:
            return self._send_status(o.bad_request(str(exc)))
        with store.lock:
            if start is not None and (
                start[0] < store.history_floor or sim.take_expired_fault(urlsplit(self.path).path)
            ):
                # As upstream once etcd has compacted the token's revision: the client must list again.
                return self._send_status(o.status_failure(410, "Expired", EXPIRED_MESSAGE))
            items = [
                obj
                for obj in store.list(resource, namespace)
                if matches_all(labels, obj["metadata"].get("labels")) and all(f.matches(obj) for f in fields)
            ]
            items.sort(key=_list_key)
            rv = store.rv
            meta: Obj = {"resourceVersion": str(rv)}
            if start is not None:
                # Every page reports the version the list started at, as upstream's consistent pages do.
                rv, after = start
                meta["resourceVersion"] = str(rv)
                items = items[bisect.bisect_right(items, after, key=_list_key) :]
            if limit and len(items) > limit:
                meta["continue"] = encode_continue(rv, _list_key(items[limit - 1]))
                meta["remainingItemCount"] = len(items) - limit
                items = items[:limit]
            items = [self._serve_obj(obj, api_version) for obj in items]
            if tables.wants_table(self.headers.get("Accept", "")):
                table = tables.table(resource, items, meta["resourceVersion"])
                table["metadata"] = meta
                payload = _dumps(table)
            else:
                payload = _dumps({"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": items})
        self._send(200, payload)

    def _get(self, resource: str, api_version: str, namespace: str, name: str) -> None:
        store = self.server.sim.store
        with store.lock:
            obj = store.get(resource, namespace, name)
            if obj is None:
                payload = None
            elif tables.wants_table(self.headers.get("Accept", "")):
                payload = _dumps(tables.table(resource, [obj], str(store.rv)))
            else:
                payload = _dumps(self._serve_obj(obj, api_version))
        if payload is None:
            return self._send_status(o.not_found(resource, name, GROUP_OF[resource]))
        self._send(200, payload)

    def _patch(self, resource: str, api_version: str, namespace: str, name: str, body: bytes) -> None:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in patch.SUPPORTED:
            return self._send_status(o.unsupported_media_type(content_type))
        store = self.server.sim.store
        with store.lock:
            obj = store.get(resource, namespace, name)
            if obj is None:
                return self._send_status(o.not_found(resource, name, GROUP_OF[resource]))
            try:
                new = patch.apply(content_type, obj, body)
            except patch.PatchError as exc:
                if exc.code == 400:
                    return self._send_status(o.bad_request(str(exc)))
                return self._send_status(o.status_failure(422, "Invalid", str(exc)))
            if not isinstance(new.get("metadata"), dict) or not isinstance(new.get("spec", {}), dict):
                return self._send_status(o.status_failure(422, "Invalid", "metadata and spec must be objects"))
            # Identity is immutable; the server owns resourceVersion and generation.
            for key in (
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if key in obj["metadata"]:
                    new["metadata"][key] = obj["metadata"][key]
                else:
                    new["metadata"].pop(key, None)
            new["kind"], new["apiVersion"] = obj["kind"], obj["apiVersion"]
            if resource == "nodes":
                b.set_node_unschedulable(new, bool(new.get("spec", {}).get("unschedulable")))
            if "generation" in obj["metadata"] and new.get("spec") != obj.get("spec"):
                new["metadata"]["generation"] = int(obj["metadata"]["generation"]) + 1
            obj.clear()
            obj.update(new)
            store.modified(resource, obj)
            payload = _dumps(self._serve_obj(obj, api_version))
        self._send(200, payload)

    def _delete_pod(self, namespace: str, name: str, query: dict[str, list[str]], body: bytes) -> None:
        store = self.server.sim.store
        options: Obj = {}
        if body.strip():
            try:
                options = json.loads(body)
            except ValueError as exc:
                return self._send_status(o.bad_request(f"error decoding DeleteOptions: {exc}"))
            if not isinstance(options, dict):
                return self._send_status(o.bad_request("DeleteOptions must be an object"))
        grace = options.get("gracePeriodSeconds")
        if _param(query, "gracePeriodSeconds") is not None:
            try:
                grace = int(_param(query, "gracePeriodSeconds") or "")
            except ValueError:
                return self._send_status(o.bad_request("invalid gracePeriodSeconds"))
        dry_run = _param(query, "dryRun") == "All" or "All" in (options.get("dryRun") or [])
        with store.lock:
            pod = store.get("pods", namespace, name)
            if pod is None:
                return self._send_status(o.not_found("pods", name))
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != pod["metadata"]["uid"]:
                return self._send_status(
                    o.conflict(
                        "Pod",
                        name,
                        f"Precondition failed: UID in precondition: {pre['uid']}, "
                        f"UID in object meta: {pod['metadata']['uid']}",
                    )
                )
            if not dry_run:
                delete_pod(store, pod, grace)
            payload = _dumps(pod)
        self._send(200, payload)

    def _evict(self, namespace: str, name: str, query: dict[str, list[str]], body: bytes) -> None:
        sim = self.server.sim
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/eviction"
        with sim.store.lock:
            answer = evict(
                sim.store,
                namespace,
                name,
                body,
                query.get("dryRun"),
                pdb_conflict=lambda: sim.take_conflict_fault(path),
            )
        self._send_json(answer.code, answer.body, answer.headers)

    # --- watch -------------------------------------------------------------------------------

    def _watch(self, resource: str, api_version: str, namespace: str | None, query: dict[str, list[str]]) -> None:
        sim = self.server.sim
        store = sim.store
        try:
            labels = parse_label_selector(_param(query, "labelSelector"))
            fields = parse_field_selector(_param(query, "fieldSelector"), resource)
            timeout = float(_param(query, "timeoutSeconds") or DEFAULT_WATCH_SECONDS)
            rv_text = _param(query, "resourceVersion") or ""
            rv_from = int(rv_text) if rv_text not in ("", "0") else None
        except (SelectorError, ValueError) as exc:
            return self._send_status(o.bad_request(str(exc)))
        as_table = tables.wants_table(self.headers.get("Accept", ""))

        def wanted(obj: Obj) -> bool:
            meta = obj["metadata"]
            return (
                (namespace is None or meta.get("namespace") == namespace)
                and matches_all(labels, meta.get("labels"))
                and all(f.matches(obj) for f in fields)
            )

        def encode(etype: str, obj: Obj) -> bytes:
            if as_table:
                payload: Obj = tables.table(resource, [obj], obj["metadata"]["resourceVersion"])
            else:
                payload = self._serve_obj(obj, api_version)
            return _dumps({"type": etype, "object": payload}) + b"\n"

        self.status_code = 200
        self.close_connection = self.close_connection  # the stream ends with a zero chunk
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Cache-Control: no-cache, private\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        deadline = time.monotonic() + timeout
        pending: list[bytes] = []
        with store.lock:
            generation = store.generation
            if rv_from is None:
                last = store.rv
                pending = [encode("ADDED", obj) for obj in store.list(resource, namespace) if wanted(obj)]
            elif rv_from < store.history_floor:
                pending = [_gone(rv_from, store.history_floor)]
                deadline = 0.0
                last = store.rv
            else:
                last = rv_from
        self._chunks(pending)
        while not sim.stopping.is_set() and time.monotonic() < deadline:
            with store.cond:
                events = store.events_since(last)
                if not events:
                    store.cond.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                    events = store.events_since(last)
                if store.generation != generation:
                    break  # a new scenario was loaded: clients relist
                if last < store.history_floor:
                    self._chunks([_gone(last, store.history_floor)])
                    break
                out = []
                for ev in events:
                    last = ev.rv
                    if ev.resource == resource and wanted(ev.obj):
                        out.append(encode(ev.type, ev.obj))
            self._chunks(out)
        self.wfile.write(b"0\r\n\r\n")

    def _chunks(self, payloads: list[bytes]) -> None:
        if payloads:
            data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in payloads)
            self.wfile.write(data)

    # --- control API -------------------------------------------------------------------------

    def _control(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        from kubesim.control import handle

        code, payload = handle(self.server.sim, method, path, query, body)
        self._send_json(code, payload)


EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter."
)


def _list_key(obj: Obj) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _limit(text: str | None) -> int:
    """A list's page size; 0 or none: everything in one answer."""
    if text in (None, ""):
        return 0
    try:
        limit = int(text)
    except ValueError:
        raise ValueError(f"invalid limit {text!r}") from None
    return max(limit, 0)


def encode_continue(rv: int, after: tuple[str, str]) -> str:
    """An opaque token, as upstream's: the version the list started at and the last key returned."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(after)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        rv, (namespace, name) = int(data["rv"]), data["start"]
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(namespace, str) or not isinstance(name, str):
            raise ValueError
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"continue key is not valid: {token[:40]!r}") from exc
    return rv, (namespace, name)


def _gone(rv: int, floor: int) -> bytes:
    status = o.status_failure(410, "Expired", f"too old resource version: {rv} ({floor})")
    del status["details"]
    return _dumps({"type": "ERROR", "object": status}) + b"\n"


def _param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return (_param(query, name) or "").lower() in ("1", "true", "yes")
