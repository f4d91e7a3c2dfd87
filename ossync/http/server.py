"""`HttpService`: the listener's lifecycle inside the daemon.

The server is waitress (Pylons' pure-Python WSGI server): one I/O thread
(`ossync-http`) parses requests without blocking on slow clients, and a fixed pool
of `THREADS` handler threads answers them, so threading is bounded whatever the
load. Connections are admitted, capped and timed by `conns` (a deadline for each whole
request, caps per client and in all, the rate limit counting connections); request
headers and bodies are capped in size. The listener reads the ledger through a
read-only handle of its own, so a scrape never waits behind a worker's write.

Stop: answers in flight get a moment to go out (a long poll of /v1/events the stop woke
answers instead of losing its connection), then the I/O loop is asked (through
waitress' trigger) to close every socket, the handler threads are joined, then the
read-only ledger is closed.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.task import ThreadedTaskDispatcher

from ossync.config import HttpConfig
from ossync.core.errors import OssyncError
from ossync.http.app import App
from ossync.http.collect import DaemonCollector
from ossync.http.conns import MAX_CONNECTIONS, SWEEP_EVERY, Policy, Server
from ossync.http.landing import AppChecker
from ossync.http.limits import RateLimiter
from ossync.http.meter import Meter
from ossync.http.view import DaemonView
from ossync.ledger import Ledger
from ossync.targets import Target

log = logging.getLogger("ossync.http")
THREADS = 4
SLACK = 32  # connections waitress still accepts while evicted ones close (a backstop)
MAX_HEADERS = 16 * 1024
MAX_BODY = 64 * 1024
FLUSH_GRACE = 2.0  # seconds answers in flight get to go out when the listener stops


class HttpService:
    def __init__(self, daemon: DaemonView, config: HttpConfig, meter: Meter) -> None:
        self.daemon = daemon
        self.config = config
        self.meter = meter
        self._server: Server | None = None
        self._sockets: dict[int, Any] = {}  # waitress' socket map: its loop ends when empty
        self._thread: threading.Thread | None = None
        self._ledger: Ledger | None = None
        self._app: App | None = None
        self.port = config.port  # the bound port once started (port 0 picks one)

    def start(self) -> None:
        daemon = self.daemon
        for label in daemon.folders:
            self.meter.folder(label)
        for name in daemon.config.endpoints:
            self.meter.endpoint(name)
        self._ledger = Ledger.open(daemon.config.ledger, readonly=True, host=daemon.config.host)
        try:
            server = self._bind()
        except OSError as exc:
            self._ledger.close()
            self._ledger = None
            raise OssyncError(f"http.listen {self.config.listen}: cannot listen there: "
                              f"{exc.strerror or exc}") from None
        self.meter.registry.register(DaemonCollector(daemon, self._ledger, self.meter))
        self._server = server
        self._thread = threading.Thread(target=server.run, name="ossync-http", daemon=True)
        self._thread.start()
        host = server.adj.host
        log.info("HTTP listener on http://%s:%d (metrics, health, API, status page; %s)",
                 f"[{host}]" if ":" in host else host, self.port, self._auth())

    def _bind(self) -> Server:
        """The socket first, then the app (the session cookie's name holds the port); no
        request is read before `run` starts the I/O loop."""
        assert self._ledger is not None
        config = self.config
        host = "127.0.0.1" if config.host == "localhost" else config.host
        adj = Adjustments(
            host=host, port=config.port, threads=THREADS,
            connection_limit=MAX_CONNECTIONS + SLACK, channel_timeout=config.request_timeout,
            cleanup_interval=SWEEP_EVERY, asyncore_use_poll=True,
            max_request_header_size=MAX_HEADERS, max_request_body_size=MAX_BODY,
            ident="ossync", expose_tracebacks=False, clear_untrusted_proxy_headers=True)
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(THREADS)
        ledger = self._ledger

        def serve(environ: dict[str, Any], start_response: Any) -> Any:
            assert self._app is not None
            return self._app(environ, start_response)

        limiter = RateLimiter(config.rate_limit, config.rate_burst)  # requests, connections
        policy = Policy(config.client_connections, config.request_timeout, limiter)
        server = Server(serve, policy, map=self._sockets, dispatcher=dispatcher, adj=adj,
                        sockinfo=adj.listen[0])
        self.port = int(server.getsockname()[1])
        self._app = App(self.daemon, ledger, self.meter, config, self.port, limiter)
        return server

    @staticmethod
    def _let_answers_out(server: Server) -> None:
        """Answers being made or sent (a long poll the stop woke, say) get up to
        `FLUSH_GRACE` seconds to go out before every connection is closed."""
        deadline = time.monotonic() + FLUSH_GRACE
        while time.monotonic() < deadline:
            channels = list(cast(dict[int, Any], server.active_channels).values())
            if not any(c.requests or c.total_outbufs_len for c in channels):
                return
            time.sleep(0.02)

    @staticmethod
    def app_checker(ledger: Ledger, target: Target, interval: float,
                    stop: threading.Event) -> Callable[[], None]:
        """The periodic check of forms given to apps (`uploads:`), for the daemon to run
        (as the stage `ossync-app-uploads`) until `stop`."""
        return functools.partial(AppChecker(ledger, target, interval).run, stop)

    def _auth(self) -> str:
        config = self.config
        if config.token:
            return "bearer token"
        if config.locked:
            return (f"no token, but this host has other login users "
                    f"({', '.join(config.other_users[:5])}): /metrics, /v1/files and the "
                    "status page answer 401 until http.token_file is set")
        return "no token: loopback only"

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            self._let_answers_out(server)
            sockets = self._sockets  # closed by the I/O thread itself, which then returns
            trigger = cast(Any, server).trigger  # (the stubs call it an int)
            trigger.pull_trigger(lambda: wasyncore.close_all(sockets, ignore_all=True))
            thread.join(10)
            server.task_dispatcher.shutdown(timeout=10)
            if thread.is_alive():
                log.warning("the HTTP listener did not stop in time")
        if self._app is not None:
            self._app.readiness.stop()
        if self._ledger is not None:
            self._ledger.close()
        self._server = self._thread = self._app = self._ledger = None
