"""Keep-alive connections for bodiless requests, one per thread and store: what
`HttpTarget.head_request` sends HEADs on, so a rebuild's million HEADs cost a request
each and not a library's worth of machinery."""

from __future__ import annotations

import http.client
import os
import ssl
import threading
from urllib.parse import SplitResult

from requests.utils import DEFAULT_CA_BUNDLE_PATH


class HeadConnections:
    def __init__(self) -> None:
        self._local = threading.local()
        self._all: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None

    def get(self, parts: SplitResult, fresh: bool, timeout: tuple[float, float],
            verify: object) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to `parts`' host (a new one when `fresh`), and
        whether it carried a request before."""
        key = (parts.scheme, parts.netloc)
        held: dict[tuple[str, str], http.client.HTTPConnection] = getattr(
            self._local, "held", None) or {}
        self._local.held = held
        conn = held.get(key)
        if conn is not None and not fresh:
            return conn, True
        if conn is not None:
            self.drop(conn)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port,
                                               timeout=timeout[0],
                                               context=self._tls(verify))
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                              timeout=timeout[0])
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(timeout[1])
        held[key] = conn
        with self._lock:
            self._all.add(conn)
        return conn, False

    def _tls(self, verify: object) -> ssl.SSLContext:
        """The session's trust: its CA bundle (file or folder), or none when verify is off."""
        if self._context is None:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                bundle = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
                if not os.path.exists(bundle):  # requests' words for it, not a bare ENOENT
                    raise OSError("Could not find a suitable TLS CA certificate bundle, "
                                  f"invalid path: {bundle}")
                context = ssl.create_default_context(
                    cafile=None if os.path.isdir(bundle) else bundle,
                    capath=bundle if os.path.isdir(bundle) else None)
            self._context = context
        return self._context

    def drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        held = getattr(self._local, "held", {})
        for key, value in list(held.items()):
            if value is conn:
                del held[key]
        with self._lock:
            self._all.discard(conn)

    def close(self) -> None:
        with self._lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            conn.close()
