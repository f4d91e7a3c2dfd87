"""A local, strict, OSS-compatible endpoint for tests and the quick start.

`LocalOSS` serves path-style URLs (`http://127.0.0.1:PORT/<bucket>/<key>`) and
implements what ossync uses: PostObject (V4 and V1 form signatures, policies,
STS tokens and their expiry (`sts.StsIssuer`), forbid-overwrite, upload callbacks signed
with a key of its own: `callback`), bucket CORS rules and preflights (`cors`), and
header-signed
PutObject, GetObject, HeadObject, DeleteObject and ListObjects, and the multipart upload
API (`upload_ops`: initiate, upload part, complete, abort, list parts, list uploads);
and the S3 dialect (SigV4 form POST and header-signed requests, checked with botocore's
code). It verifies every signature with the official SDK's code, so our own signer's
bugs show up as refusals. Objects and uploads in progress live under `root` and survive
restarts (see `store` and `uploads` for the layout).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ossync.core.credentials import Credentials

if TYPE_CHECKING:
    from ossync.localoss.server import Server
    from ossync.localoss.sts import StsIssuer

__all__ = ["LocalOSS"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class LocalOSS:
    """The server: `start()` serves in a background thread, `stop()` ends it."""

    def __init__(self, root: Path, buckets: Sequence[str], credentials: Credentials, *,
                 region: str = "cn-hangzhou", host: str = "127.0.0.1", port: int = 0,
                 public_read: bool = False,
                 clock: Callable[[], datetime] = _utcnow, sts: StsIssuer | None = None,
                 kms: bool = True) -> None:
        # Imported here: the SDK behind the verifier takes 0.1 s to import, which every
        # `ossync` command would otherwise pay for building its --help.
        from ossync.localoss.auth import Verifier
        from ossync.localoss.cors import BucketCors
        from ossync.localoss.server import App
        from ossync.localoss.store import Bucket

        if not buckets:
            raise ValueError("LocalOSS needs at least one bucket")
        self.root = Path(root)
        self.region = region
        self.host = host
        self.port = port
        self.sts = sts  # temporary keys it accepts until they expire (SecurityTokenExpired)
        self.app = App({name: Bucket(self.root, name) for name in buckets},
                       Verifier(credentials, region, sts), public_read, clock, kms,
                       {name: BucketCors(self.root / name) for name in buckets})
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> LocalOSS:
        if self._server is not None or self._stopped:
            raise RuntimeError("a LocalOSS can be started only once")
        from ossync.localoss.callback import KEY_PATH
        from ossync.localoss.server import Server

        self._server = Server((self.host, self.port), self.app)
        self.app.key_url = self.endpoint + KEY_PATH
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, name="localoss",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end open connections, join every thread; idempotent."""
        server, thread = self._server, self._thread
        self._stopped = True
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalOSS is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LocalOSS:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
