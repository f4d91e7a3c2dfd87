"""The HTTP side: a threaded server whose handler sends every request through `_serve`.

`_serve` is the single place a request is routed, answered and logged, so the
fault injection planned for later (`--faults`: 5xx, resets, stalls, wrong
ETags) has exactly one spot to hook into. Logs go to `logging` at DEBUG and
carry method, path and status only: no headers, query strings or form fields,
hence no signatures, tokens or secrets.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote_to_bytes

import ossync.localoss.objects as objects
import ossync.localoss.reading as reading
import ossync.localoss.upload_ops as upload_ops
from ossync.localoss.auth import QUERY_AUTH_PARAMS, Verifier
from ossync.localoss.callback import KEY_PATH, CallbackKey
from ossync.localoss.cors import BucketCors, parse_rules
from ossync.localoss.multipart import Source
from ossync.localoss.post import Caller, PostObject
from ossync.localoss.request import SignedRequest
from ossync.localoss.responses import OSSError, Reply, error_document, invalid_argument
from ossync.localoss.store import Bucket

log = logging.getLogger("ossync.localoss")
CHUNK = 64 * 1024
DRAIN_LIMIT = 1 << 30
LIST_PARAMS = {"prefix", "marker", "max-keys", "delimiter", "encoding-type"}


@dataclass
class App:
    """What the handler needs: buckets, the verifier, the ACL and the clock."""

    buckets: Mapping[str, Bucket]
    verifier: Verifier
    public_read: bool
    clock: Callable[[], datetime]
    kms: bool = True  # False: KMS encryption is refused (KmsServiceNotEnabled)
    cors: Mapping[str, BucketCors] = field(default_factory=dict)  # each bucket's rules
    callback_key: CallbackKey = field(default_factory=CallbackKey)  # signs upload callbacks
    key_url: str = ""  # where its public key is served (set once the port is known)


class _Body:
    """The request body, never read past Content-Length; the rest can be drained."""

    def __init__(self, stream: Source, length: int) -> None:
        self.stream, self.left = stream, length

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.stream.read(n) if n else b""
        self.left -= len(data)
        return data

    def drain(self) -> bool:
        """Discard what the client still sends; False if too much to wait for."""
        if self.left > DRAIN_LIMIT:
            return False
        while self.left > 0:
            if not self.read(CHUNK):
                return False
        return True


class Server(ThreadingHTTPServer):
    """Tracks its connections so `close_connections` can end idle keep-alives."""

    daemon_threads = True
    # socketserver's default backlog is 5: twenty clients connecting at once on a busy
    # machine overflowed it, and a connection the kernel dropped looked like a store fault.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, Handler)
        self.app = app
        self._lock = threading.Lock()
        self._conns: dict[Any, threading.Thread] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread, daemon=True,
                                  args=(request, client_address), name="localoss-conn")
        with self._lock:
            self._conns[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self, timeout: float = 5.0) -> None:
        with self._lock:
            conns = list(self._conns.items())
        for sock, _ in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in conns:
            thread.join(timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error", exc_info=True)


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    server_version = "local-oss"
    sys_version = ""
    timeout = 60  # idle keep-alive connections give up after this
    # Headers and a body go out in two writes: without TCP_NODELAY the body waits for the
    # client's delayed ACK of the headers (40 ms a small answer: a listing, the tags).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        """Route, answer and log one request; the hook point for fault injection."""
        request_id = uuid.uuid4().hex[:24].upper()
        body = _Body(self.rfile, 0)
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a chunked body we will not read
        self.request_id = request_id
        try:
            body.left = self._content_length()
            reply = self._route(body)
        except OSSError as err:
            reply = self._error(err, request_id)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away or stalled
            return
        except Exception:
            log.exception("local-oss: internal error on %s %s", self.command, self._path())
            internal = OSSError(500, "InternalError", "We encountered an internal error.")
            reply = self._error(internal, request_id)
        if not body.drain():
            self.close_connection = True
        if self.command != "OPTIONS":
            reply.headers.update(self._cors())
        self._send(reply, request_id)

    def _error(self, err: OSSError, request_id: str) -> Reply:
        """The `<Error>` body; HEAD gets it base64'd in `x-oss-err`, as OSS does."""
        body = error_document(err, request_id, self._host())
        headers = {"Content-Type": "application/xml"}
        if self.command == "HEAD":
            headers["x-oss-err"] = base64.b64encode(body).decode()
        return Reply(err.status, headers, body)

    def _route(self, body: _Body) -> Reply:
        app = self.server.app
        if self._path() == KEY_PATH and self.command in ("GET", "HEAD"):
            return Reply(200, {"Content-Type": "application/x-pem-file"},
                         app.callback_key.pem())
        bucket_name, key, query = self._target()
        bucket = app.buckets.get(bucket_name)
        if bucket is None:
            raise OSSError(404, "NoSuchBucket", "The specified bucket does not exist.",
                           BucketName=bucket_name)
        if self.command == "OPTIONS":  # a CORS preflight: no signature, the bucket's rules
            return app.cors[bucket_name].preflight(
                {k.lower(): v for k, v in self.headers.items()})
        now = app.clock()
        if self.headers.get("Transfer-Encoding") and self.command in ("PUT", "POST"):
            raise OSSError(411, "MissingContentLength", "local-oss needs a Content-Length.")
        if self.command == "POST" and not key and not query:
            base = f"http://{self._host()}/{bucket_name}"
            caller = Caller(self.request_id, str(self.client_address[0]), app.callback_key,
                            app.key_url)
            return PostObject(bucket, app.verifier, now, base, kms=app.kms,
                              caller=caller).run(body, body.left,
                                                 self.headers.get("Content-Type", ""))
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = SignedRequest(self.command, bucket_name, key, query, headers, self._host())
        app.verifier.verify_request(req, now, public_read=app.public_read)
        if not key and [k for k, _ in query] == ["cors"]:
            return self._bucket_cors(app.cors[bucket_name], body)
        return self._object_op(bucket, key, dict(query), headers, body)

    def _bucket_cors(self, cors: BucketCors, body: _Body) -> Reply:
        """PutBucketCors, GetBucketCors, DeleteBucketCors."""
        if self.command == "PUT":
            cors.put(parse_rules(_small_body(body)))
            return Reply(200)
        if self.command == "GET":
            return cors.get_document()
        if self.command == "DELETE":
            cors.delete()
            return Reply(204)
        raise OSSError(405, "MethodNotAllowed", "The specified method is not allowed.")

    def _cors(self) -> dict[str, str]:
        """The CORS headers an answer carries for the request's Origin (none without)."""
        if "Origin" not in self.headers:
            return {}
        try:
            bucket_name = self._target()[0]
        except OSSError:
            return {}
        cors = self.server.app.cors.get(bucket_name)
        if cors is None:
            return {}
        return cors.decorate({k.lower(): v for k, v in self.headers.items()}, self.command)

    def _object_op(self, bucket: Bucket, key: str, query: dict[str, str],
                   headers: dict[str, str], body: _Body) -> Reply:
        query = {k: v for k, v in query.items() if k not in QUERY_AUTH_PARAMS}
        s3 = headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 ")
        if key and self.command in ("GET", "HEAD"):
            for name in objects.IGNORED_READ_PARAMS:
                query.pop(name, None)
        if not key and self.command == "GET" and "list-type" in query:
            return reading.list_objects_v2(bucket, query, s3=s3)
        if not key and self.command == "GET" and set(query) <= LIST_PARAMS:
            return objects.list_objects(bucket, query)
        if key and set(query) == {"tagging"}:
            return reading.tagging(bucket, key, self.command, _small_body(body), s3=s3)
        if key and set(query) == {"acl"} and self.command == "GET" and not s3:
            return reading.object_acl(bucket, key)
        call = upload_ops.Call(bucket, key, query, headers, body, body.left, self._host(),
                               self.server.app.kms)
        multipart = upload_ops.route(self.command, call)
        if multipart is not None:
            return multipart
        if not key or query:
            raise OSSError(501, "NotImplemented", "local-oss does not implement this operation.")
        if self.command in ("GET", "HEAD"):
            return objects.get_object(bucket, key, head=self.command == "HEAD", s3=s3)
        if self.command == "PUT":
            if "content-length" not in headers:
                raise OSSError(411, "MissingContentLength",
                               "You must provide the Content-Length HTTP header.")
            return objects.put_object(bucket, key, headers, body, body.left, s3=s3,
                                      kms=self.server.app.kms)
        if self.command == "DELETE":
            return objects.delete_object(bucket, key)
        raise OSSError(405, "MethodNotAllowed", "The specified method is not allowed.")

    def _target(self) -> tuple[str, str, list[tuple[str, str]]]:
        """Bucket, key (percent-decoded UTF-8) and decoded query pairs of the URL."""
        raw_path, _, raw_query = self.path.partition("?")
        bucket, _, key = raw_path.lstrip("/").partition("/")
        try:
            query = [(_decode(k), _decode(v)) for k, _, v in
                     (p.partition("=") for p in raw_query.split("&") if p)]
            return _decode(bucket), _decode(key), query
        except UnicodeDecodeError:
            raise invalid_argument("The URL is not valid percent-encoded UTF-8.") from None

    def _send(self, reply: Reply, request_id: str) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("x-oss-request-id", request_id)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            streamed = reply.stream is not None or not reply.body
            if reply.status not in (204, 304):
                self.send_header("Content-Length",
                                 str(reply.length if streamed else len(reply.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self._write_body(reply)
        finally:
            if reply.stream is not None:
                reply.stream.close()

    def _write_body(self, reply: Reply) -> None:
        if reply.stream is None:
            self.wfile.write(reply.body)
            return
        while chunk := reply.stream.read(CHUNK):
            self.wfile.write(chunk)

    def _content_length(self) -> int:
        raw = self.headers.get("Content-Length", "0").strip()
        if not raw.isdigit():
            self.close_connection = True
            raise invalid_argument("Content-Length is not a number.", "Content-Length", raw)
        return int(raw)

    def _host(self) -> str:
        host, port = self.server.server_address[:2]
        return self.headers.get("Host") or f"{host!s}:{port}"

    def _path(self) -> str:
        return self.path.partition("?")[0]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("local-oss: %s %s -> %s", self.command, self._path(), code)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("local-oss: %s", re.sub(r"\?\S*", "?...", format % args))


def _small_body(body: _Body, limit: int = 64 * 1024) -> bytes:
    """A small XML request body (PutObjectTagging), all of it."""
    if body.left > limit:
        raise OSSError(400, "EntityTooLarge", "The request body is too large.")
    data = b""
    while body.left > 0:
        chunk = body.read(body.left)
        if not chunk:
            raise ConnectionError("the client sent less than Content-Length")
        data += chunk
    return data


def _decode(part: str) -> str:
    return unquote_to_bytes(part).decode("utf-8")
