"""A tiny local webhook receiver: records every delivery; can be told to fail the first few."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [d.headers["webhook-id"] for d in self.deliveries]


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.receiver.lock:
            self.receiver.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
            failing = self.receiver.fail_first > 0
            self.receiver.fail_first -= failing
        self.send_response(500 if failing else 204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class running_receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        port = self.server.server_address[1]
        self.receiver = Receiver(f"http://127.0.0.1:{port}/hook", fail_first=fail_first)
        self.server.RequestHandlerClass = type("H", (_Handler,), {"receiver": self.receiver})
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self.receiver

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
