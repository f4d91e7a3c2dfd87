"""Helpers for direct-upload tests: a real daemon whose listener gives apps forms
(`uploads:`), upload tokens on disk, and a file sent exactly as `wx.uploadFile` sends it."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from ossync.ledger import Issued
from tests.daemon_helpers import jpeg_bytes
from tests.http_helpers import TOKEN, Running, http_daemon, write_token

UPLOAD_TOKEN = "u7Qm2vX9kLp4Rz8Tb3Nc6Hw1Yd5Fj0Gs"  # 32 random characters
OTHER_UPLOAD_TOKEN = "Kx4pW9mZ2qR7tV1nB8cL5hJ3gF6dS0aY"


def write_upload_tokens(folder: Path, *tokens: str) -> Path:
    path = folder / "upload_tokens"
    path.write_text("# apps' backends\n" + "\n".join(tokens or (UPLOAD_TOKEN,)) + "\n")
    path.chmod(0o600)
    return path


def free_port() -> int:
    """A port nothing listens on right now (for a callback URL made before the daemon)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def upload_daemon(make_config: Callable[..., Path], folder: Path, *,
                  uploads: dict[str, Any] | None = None, http: dict[str, Any] | None = None,
                  **top: Any) -> Iterator[Running]:
    """The real daemon with `http:` (its own token) and `uploads:` (the upload tokens)."""
    http = {"token_file": str(write_token(folder)), **(http or {})}
    uploads = {"token_file": str(write_upload_tokens(folder, UPLOAD_TOKEN, OTHER_UPLOAD_TOKEN)),
               **(uploads or {})}
    with http_daemon(make_config, http, uploads=uploads, **top) as running:
        yield running


def ask(running: Running, files: list[dict[str, Any]], token: str | None = UPLOAD_TOKEN,
        **kwargs: Any) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return requests.post(running.base + "/v1/uploads", json={"files": files},
                         headers=headers, timeout=10, **kwargs)


def done(running: Running, upload_id: str, token: str = UPLOAD_TOKEN,
         body: dict[str, Any] | None = None) -> requests.Response:
    return requests.post(f"{running.base}/v1/uploads/{upload_id}/done", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def wx_upload(upload: dict[str, Any], data: bytes, name: str = "tmp_4f2a.jpg",
              kind: str = "image/jpeg") -> requests.Response:
    """What `wx.uploadFile({url, filePath, name: 'file', formData})` sends: one multipart
    form, formData's fields in order, then the file part named `file`."""
    return requests.post(upload["url"], data=upload["fields"],
                         files={"file": (name, data, kind)},
                         headers={"User-Agent": "Mozilla/5.0 MicroMessenger/8.0 miniProgram"},
                         timeout=10)


def photo(n: int, size: int = 30_000) -> bytes:
    return jpeg_bytes(size, seed=n)


def pending(running: Running) -> list[Issued]:
    """Forms issued and not recorded (every one, however far its next check is)."""
    return running.daemon.ledger.due_issued("9999-12-31T23:59:59.999Z", 1000)


__all__ = ["TOKEN", "Running"]
