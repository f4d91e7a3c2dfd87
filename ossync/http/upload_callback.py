"""OSS upload callbacks (`POST /v1/uploads/callback`), verified as Alibaba documents.

OSS signs each callback with its RSA key: `authorization` is the base64 signature,
PKCS#1 v1.5 over the MD5 of the URL-decoded path, the raw query (with its `?`), a
newline and the raw body ("MD5withRSA"); `x-oss-pub-key-url` is the base64 of where
the public key is. The key is fetched only from Alibaba's documented place,
`gosspublic.alicdn.com` (always over HTTPS, whichever scheme the header names), or,
with `uploads.trust_local_endpoint` (a loopback test config), from the bundled local
endpoint; each key is fetched once and kept. A body that is not signed so, or names
another bucket, object or size than the form issued, changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

ALIBABA_HOST = "gosspublic.alicdn.com"
FETCH_TIMEOUT = 3.0  # seconds: OSS waits 5 s for the whole answer
MAX_KEY = 16 * 1024
MAX_KEYS = 8  # key URLs kept (Alibaba has used one or two)


class Forged(Exception):
    """Not a callback OSS signed (or not one for a key we trust)."""


def key_fetch_url(url: str, local_prefix: str | None) -> str:
    """Where to fetch the key a callback names, or `Forged` when it is not trusted."""
    if local_prefix is not None and url.startswith(local_prefix) and ".." not in url:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != ALIBABA_HOST or \
            not parts.path.startswith("/") or ".." in parts.path or parts.query or \
            parts.fragment:
        raise Forged("the public key URL is not under https://gosspublic.alicdn.com/")
    return f"https://{ALIBABA_HOST}{parts.path}"


def _fetch(url: str) -> bytes:
    with requests.get(url, timeout=FETCH_TIMEOUT, allow_redirects=False, stream=True) as got:
        if got.status_code != 200:
            raise Forged(f"the public key could not be fetched (HTTP {got.status_code})")
        data = got.raw.read(MAX_KEY + 1, decode_content=True)
    if len(data) > MAX_KEY:
        raise Forged("the public key is too large")
    return bytes(data)


class KeyCache:
    """Public keys by the URL they were fetched from, each fetched once."""

    def __init__(self, local_prefix: str | None,
                 fetch: Callable[[str], bytes] = _fetch) -> None:
        self.local_prefix = local_prefix
        self._fetch = fetch
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def key(self, header: str) -> Any:
        try:
            url = base64.b64decode(header, validate=True).decode("ascii")
        except (binascii.Error, ValueError):
            raise Forged("x-oss-pub-key-url is not base64 of a URL") from None
        source = key_fetch_url(url, self.local_prefix)
        with self._lock:
            if source in self._keys:
                return self._keys[source]
        try:
            pem = self._fetch(source)
        except requests.RequestException as exc:
            raise Forged(f"the public key could not be fetched ({type(exc).__name__})"
                         ) from None
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            key = load_pem_public_key(pem)
        except ValueError:
            raise Forged("the public key URL holds no PEM public key") from None
        with self._lock:
            if len(self._keys) >= MAX_KEYS:
                self._keys.clear()
            self._keys[source] = key
        return key


def string_to_sign(path: bytes, raw_query: str, body: bytes) -> bytes:
    """`path` as the WSGI server decoded it (latin-1 bytes of the UTF-8 path)."""
    return path + (f"?{raw_query}" if raw_query else "").encode("latin-1") + b"\n" + body


def verify_any(key: Any, authorization: str | None, candidates: list[bytes]) -> None:
    """The signature matches one of the strings OSS may have signed, else `Forged`."""
    for signed in candidates[:-1]:
        try:
            verify(key, authorization, signed)
            return
        except Forged:
            continue
    verify(key, authorization, candidates[-1])


def verify(key: Any, authorization: str | None, signed: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        signature = base64.b64decode(authorization or "", validate=True)
        key.verify(signature, signed, padding.PKCS1v15(), hashes.MD5())
    except (binascii.Error, ValueError, InvalidSignature, TypeError):
        raise Forged("the signature does not match") from None


@dataclass(frozen=True)
class Landed:
    """What a verified callback says of the stored object."""

    id: str
    bucket: str
    key: str
    size: int
    content_type: str
    crc64: int | None
    etag: str | None


def read_body(body: bytes) -> Landed:
    """The body `ossync.http.upload_forms.CALLBACK_BODY` makes OSS send."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                          max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise Forged("the body is not the form ossync asked for") from None
    one = {k: v[0] for k, v in fields.items() if len(v) == 1}
    try:
        crc = one.get("crc64") or None
        return Landed(one["id"], one["bucket"], one["object"], int(one["size"]),
                      one.get("mimeType", ""), int(crc) if crc else None,
                      f'"{one["etag"]}"' if one.get("etag") else None)
    except (KeyError, ValueError):
        raise Forged("the body is not the form ossync asked for") from None
