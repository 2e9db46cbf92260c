"""A local HTTP endpoint for the alert tests: `http.server` in a thread on a free port,
recording every POST (path, JSON body) and answering with the next status of a script
(then 200). `hold` keeps every answer back until it is set (an endpoint that hangs)."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Endpoint:
    base: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, Any]] = field(default_factory=list)
    hold: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.received]


@contextmanager
def endpoint(statuses: list[int] | None = None, hold: threading.Event | None = None) -> Iterator[Endpoint]:
    state = Endpoint(base="", statuses=list(statuses or []), hold=hold)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.received.append((self.path, json.loads(body)))
                status = state.statuses.pop(0) if state.statuses else 200
            if state.hold is not None:
                state.hold.wait()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()
        thread.join()
