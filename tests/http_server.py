"""A real HTTP server on 127.0.0.1 serving scripted fixture responses, for fetching tests."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a page that times out)

    @property
    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


class FixtureServer:
    """Routes map a path to a Reply, or to a list of Replies served in turn (the last one repeats)."""

    def __init__(self):
        self.routes: dict[str, Reply | list[Reply]] = {}
        self.requests: dict[str, list[dict[str, str]]] = defaultdict(list)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's name)
                path = self.path.split("?")[0]
                server.requests[path].append(dict(self.headers))
                reply = server._next(path, len(server.requests[path]) - 1)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "text/html; charset=utf-8", **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(reply.payload)))
                    self.end_headers()
                    self.wfile.write(reply.payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts, size caps)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        # serve_forever looks for shutdown() every poll_interval: 0.5 s by default, paid by every test at its end
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def _next(self, path: str, index: int) -> Reply:
        route = self.routes.get(path, Reply(404, "not found", {"Content-Type": "text/plain"}))
        if isinstance(route, list):
            return route[min(index, len(route) - 1)]
        return route

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> FixtureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
