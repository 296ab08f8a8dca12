"""The stand-in on a socket: a threading HTTP server on 127.0.0.1 and :class:`OrangeLogicStandIn`."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_orangelogic.testing.stand_in.config import StandInConfig
from airflow_provider_orangelogic.testing.stand_in.messages import Request, Response, error_response
from airflow_provider_orangelogic.testing.stand_in.service import StandInService

LOOPBACK = "127.0.0.1"


class StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must never keep the test process alive
    request_queue_size = 128  # concurrency tests open many connections at once

    def __init__(self, address: tuple[str, int], service: StandInService) -> None:
        self.service = service
        self.base_url = ""
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, StandInRequestHandler)
        self.base_url = f"http://{LOOPBACK}:{self.server_port}"

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections, so a stopped stand-in really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, resets) are expected in fault tests; stay quiet.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class StandInRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service behind a load balancer
    server_version = "OrangeLogicStandIn/1.0"
    timeout = 30  # idle keep-alive connections must not pin a thread forever
    server: StandInHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK stalls every keep-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # Silent on purpose: request lines and redirects can carry codes, and the CLI promises
        # never to print secrets.
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            base_url=self.server.base_url,
        )
        try:
            response = self.server.service.handle(request)
        except Exception:
            traceback.print_exc()  # a bug in the stand-in: show it, but still answer
            response = error_response(500, "server_error", "stand-in bug")
        self._send(response)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering an unreadable request."""
        if self.headers.get("Transfer-Encoding"):
            return self._refuse(error_response(411, "invalid_request", "chunked"))
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= self.server.service.body_limit(urlsplit(self.path).path):
            return self._refuse(error_response(413, "invalid_request", "body size"))
        return self.rfile.read(length) if length else b""

    def _refuse(self, response: Response) -> None:
        self._send(response)
        self.close_connection = True

    def _send(self, response: Response) -> None:
        if response.abort is not None:
            self._abort(response.abort)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", response.content_type)
        if response.chunks is not None:
            self.send_header("Content-Length", str(response.length))
            self.end_headers()
            for block in response.chunks:
                self.wfile.write(block)
            return
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _abort(self, mode: str) -> None:
        """Promise a body, send part of it, then drop the connection."""
        partial = b'{"access_token": "'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(partial) + 4096))
        self.end_headers()
        self.wfile.write(partial)
        self.close_connection = True
        if mode == "rst":
            # A zero linger timeout makes close() send a TCP RST rather than a tidy FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The socket only really closes once the buffered reader wrapping it is closed too
        # (wfile writes straight to the socket and holds no reference to release).
        self.rfile.close()
        self.connection.close()


class OrangeLogicStandIn:
    """A local Orange Logic OAuth + Search server on ``127.0.0.1``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with OrangeLogicStandIn(StandInConfig(access_lifetime=2)) as standin:
            code = standin.authorize()
            ...  # point the client at standin.url
    """

    def __init__(self, config: StandInConfig | None = None, host: str = LOOPBACK, port: int = 0) -> None:
        if host != LOOPBACK:
            # The stand-in hands tokens to anyone: it must not be reachable from elsewhere.
            raise ValueError(f"the stand-in only listens on {LOOPBACK}, not {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port!r}")
        self._service = StandInService(config or StandInConfig())
        self._requested_port = port
        self._server: StandInHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----

    def start(self) -> OrangeLogicStandIn:
        """Bind and serve in a background daemon thread."""
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        server = StandInHTTPServer((LOOPBACK, self._requested_port), self._service)
        thread = threading.Thread(
            target=server.serve_forever,
            # stop() waits up to one poll interval; keep it short so per-test servers stop fast.
            kwargs={"poll_interval": 0.02},
            name=f"orangelogic-standin-{server.server_port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        self._service.close()
        if thread is not None:
            thread.join(timeout=5)

    def serve_forever_for(self, seconds: float, stop_event: threading.Event | None = None) -> bool:
        """Serve until ``seconds`` have passed or ``stop_event`` is set, then stop.

        Returns True if stopped by the event, False if the time ran out.
        """
        if self._server is None:
            self.start()
        event = stop_event or threading.Event()
        deadline = time.monotonic() + seconds
        try:
            # Short waits keep the main thread responsive to signal handlers setting the event.
            while not event.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                event.wait(min(remaining, 0.25))
            return True
        finally:
            self.stop()

    def __enter__(self) -> OrangeLogicStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def config(self) -> StandInConfig:
        """A copy of the current configuration."""
        return self._service.config

    # ---- test helpers ----

    def authorize(self, redirect_uri: str | None = None, state: str = "x") -> str:
        """Issue an authorization code as the browser flow would, and return it.

        ``state`` is accepted for symmetry with the HTTP flow; codes do not depend on it.
        Raises ValueError for a redirect URI that is not registered.
        """
        return self._service.authorize(redirect_uri)

    def counters(self) -> dict[str, int]:
        return self._service.counters()

    def issued_secrets(self) -> list[str]:
        """Every code, access token and refresh token issued since creation (kept across reset)."""
        return self._service.issued_secrets()

    def uploads(self) -> dict[str, Any]:
        """Upload items (with how often each chunk arrived) and uploaded assets (``GET /_standin/uploads``)."""
        from airflow_provider_orangelogic.testing.stand_in.uploads import snapshot

        return snapshot(self._service)

    def add_fault(self, endpoint: str, kind: str, count: int = 1, **options: Any) -> None:
        """Make the next ``count`` requests to ``endpoint`` misbehave (see :mod:`.faults`)."""
        self._service.add_fault(endpoint, kind, count, **options)

    def clear_faults(self) -> None:
        self._service.clear_faults()

    def reset(self) -> None:
        """Forget grants, codes, counters and pending faults (configuration is kept)."""
        self._service.reset()

    def configure(self, **changes: Any) -> None:
        """Change :class:`StandInConfig` fields at run time; new values apply to new tokens."""
        self._service.configure(changes)
