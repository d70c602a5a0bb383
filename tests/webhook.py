"""A tiny webhook receiver on 127.0.0.1 for tests: records every JSON body it is sent, and can be told to answer
with another status (or slowly) for its next N calls.

    def test_something(webhook):                       # the fixture in conftest.py starts and stops one
        endpoint = ... url=webhook.url ...             # http://127.0.0.1:PORT/hooks/<random secret>
        webhook.respond_with(500, times=2)             # the next two calls get HTTP 500, then 200 again
        ...
        webhook.wait_for(1)                            # block until one body arrived (AssertionError on timeout)
        assert webhook.bodies[0]["drainboard"]["event"] == "approved"

Or without the fixture: ``with WebhookReceiver() as webhook: ...``. It is a real HTTP server in a thread of the
test process, so a real Celery worker process can post to it too.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class _Plan:
    status: int
    times: int
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 (a free port) that records what is posted to it."""

    def __init__(self, *, default_status: int = 200) -> None:
        self.default_status = default_status
        self.secret = secrets.token_urlsafe(16)  # makes the URL unique, so tests can search for it anywhere
        self._received: list[Received] = []
        self._plans: list[_Plan] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                plan = receiver._next_plan()
                if plan.delay:
                    time.sleep(plan.delay)
                with receiver._lock:
                    receiver._received.append(
                        Received(self.command, self.path, dict(self.headers.items()), body, plan.status)
                    )
                    receiver._lock.notify_all()
                answer = b'{"ok": true}' if 200 <= plan.status < 300 else b'{"ok": false}'
                try:
                    self.send_response(plan.status)
                    for name, value in plan.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client gave up (a timeout test): nothing to answer

            do_POST = _handle
            do_PUT = _handle
            do_GET = _handle

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .received instead
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- life cycle ----

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- where to send ----

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The webhook URL to configure; its secret path makes it easy to prove it never leaks."""
        return f"http://127.0.0.1:{self.port}/hooks/{self.secret}"

    @staticmethod
    def refused_url() -> str:
        """A URL on 127.0.0.1 where nothing listens: connections are refused."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}/hooks/nobody-listens"

    # ---- how to answer ----

    def respond_with(
        self, status: int, *, times: int = 1, delay: float = 0.0, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next `times` calls with `status` (after waiting `delay` seconds); plans queue up in order."""
        with self._lock:
            self._plans.append(_Plan(status, times, delay, dict(headers or {})))

    def _next_plan(self) -> _Plan:
        with self._lock:
            while self._plans and self._plans[0].times <= 0:
                self._plans.pop(0)
            if not self._plans:
                return _Plan(self.default_status, 1)
            plan = self._plans[0]
            plan.times -= 1
            return _Plan(plan.status, 1, plan.delay, plan.headers)

    # ---- what arrived ----

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies posted so far, oldest first."""
        return [item.json for item in self.received]

    def wait_for(self, count: int = 1, *, timeout: float = 30) -> list[Any]:
        """Block until at least `count` requests arrived; return the JSON bodies. AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the webhook got {len(self._received)} calls, not {count}, in {timeout}s")
                self._lock.wait(left)
        return self.bodies

    def reset(self) -> None:
        """Forget what was received and any planned answers."""
        with self._lock:
            self._received.clear()
            self._plans.clear()
