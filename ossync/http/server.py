"""`HttpService`: the listener's lifecycle inside the daemon.

The server is waitress (Pylons' pure-Python WSGI server): one I/O thread
(`ossync-http`) parses requests without blocking on slow clients, and a fixed pool
of `THREADS` handler threads answers them, so threading is bounded whatever the
load. Limits: `CONNECTIONS` open connections, idle ones closed after
`IDLE_TIMEOUT`, request headers and bodies capped. The listener reads the ledger
through a read-only handle of its own, so a scrape never waits behind a worker's write.

Stop: the I/O loop is asked (through waitress' trigger) to close every socket, the
handler threads are joined, then the read-only ledger is closed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

from ossync.config import HttpConfig
from ossync.core.errors import OssyncError
from ossync.http.app import App
from ossync.http.collect import DaemonCollector
from ossync.http.meter import Meter
from ossync.http.view import DaemonView
from ossync.ledger import Ledger

log = logging.getLogger("ossync.http")
THREADS = 4
CONNECTIONS = 64
IDLE_TIMEOUT = 30  # seconds an idle keep-alive connection stays open
MAX_HEADERS = 16 * 1024
MAX_BODY = 64 * 1024


class HttpService:
    def __init__(self, daemon: DaemonView, config: HttpConfig, meter: Meter) -> None:
        self.daemon = daemon
        self.config = config
        self.meter = meter
        self._server: BaseWSGIServer | None = None
        self._sockets: dict[int, Any] = {}  # waitress' socket map: its loop ends when empty
        self._thread: threading.Thread | None = None
        self._ledger: Ledger | None = None
        self._app: App | None = None
        self.port = config.port  # the bound port once started (port 0 picks one)

    def start(self) -> None:
        daemon = self.daemon
        for label in daemon.folders:
            self.meter.folder(label)
        self._ledger = Ledger.open(daemon.config.ledger, readonly=True, host=daemon.config.host)
        self._app = App(daemon, self._ledger, self.meter, self.config)
        self.meter.registry.register(DaemonCollector(daemon, self._ledger, self.meter))
        host = "127.0.0.1" if self.config.host == "localhost" else self.config.host
        try:
            server = create_server(
                self._app, self._sockets, host=host, port=self.config.port, threads=THREADS,
                connection_limit=CONNECTIONS, channel_timeout=IDLE_TIMEOUT,
                max_request_header_size=MAX_HEADERS, max_request_body_size=MAX_BODY,
                ident="ossync", expose_tracebacks=False, clear_untrusted_proxy_headers=True)
        except OSError as exc:
            self._ledger.close()
            self._ledger = None
            raise OssyncError(f"http.listen {self.config.listen}: cannot listen there: "
                              f"{exc.strerror or exc}") from None
        assert isinstance(server, BaseWSGIServer)  # one address: one server, not several
        self._server = server
        self.port = int(server.getsockname()[1])
        self._thread = threading.Thread(target=server.run, name="ossync-http", daemon=True)
        self._thread.start()
        auth = "bearer token" if self.config.token else "no token: loopback only"
        log.info("HTTP listener on http://%s:%d (metrics, health, API, status page; %s)",
                 f"[{host}]" if ":" in host else host, self.port, auth)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
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
