"""A plain HTTP forward proxy on 127.0.0.1 for tests: what a client configured with
HTTP_PROXY talks to. It relays each request to the host its absolute URL names and
keeps the request lines it saw. No CONNECT (the tests' endpoints speak plain HTTP)."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
        "transfer-encoding", "te", "trailer", "upgrade"}


class ForwardProxy:
    """`with ForwardProxy() as proxy:` … `proxy.url` for HTTP_PROXY, `proxy.seen` after."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, name="forward-proxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads
        self._thread.join(10)


def _handler(proxy: ForwardProxy) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real proxy

        def relay(self) -> None:
            proxy.seen.append(f"{self.command} {self.path}")
            target = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            upstream = http.client.HTTPConnection(target.hostname or "", target.port,
                                                  timeout=30)
            try:
                upstream.request(self.command, target.path + (
                    f"?{target.query}" if target.query else ""), body=body, headers={
                    k: v for k, v in self.headers.items() if k.lower() not in _HOP})
                answer = upstream.getresponse()
                data = answer.read()
            finally:
                upstream.close()
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP and (
                        name.lower() != "content-length" or self.command == "HEAD"):
                    self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = relay

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Relay
