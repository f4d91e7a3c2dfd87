"""OSS upload callbacks, as OSS makes them: once a PostObject form with a `callback` field
stored its object, the endpoint POSTs the callback body (its `${…}` variables filled) to
the callback URL, signed with an RSA key of its own, and relays the answer.

- The `callback` field is base64 JSON with `callbackUrl` (up to 5 `;`-separated URLs,
  tried in order) and `callbackBody`, and optionally `callbackHost` and
  `callbackBodyType` (`application/x-www-form-urlencoded`, the default, whose variables
  are URL-encoded, or `application/json`, whose variables are JSON strings); anything
  else is `400 InvalidArgument` before a byte of the file is taken. Custom variables
  (`${x:name}`) come from `x:` form fields or the base64 JSON `callback-var` field.
- The request carries `authorization` (base64 of the RSA signature, PKCS#1 v1.5 over
  the MD5 of the URL-decoded path, the raw query with its `?`, a newline and the body),
  `x-oss-pub-key-url` (base64 of where the public key is), `x-oss-request-id`,
  `x-oss-bucket`, `x-oss-tag: CALLBACK`, `Content-MD5`, and `User-Agent:
  aliyun-oss-callback`.
- An answer `200` with a JSON body within 5 seconds is relayed to the uploader (`200`,
  that body). Anything else is `203 CallbackFailed`: the object stays stored, and no one
  tries the callback again (as with OSS: the uploader must tell the app another way).

The key is generated on the first callback (RSA 2048, with the `cryptography` package)
and served at `KEY_PATH`, a path no bucket can have. Only a client told to trust this
endpoint's key (ossync's `uploads.trust_local_endpoint`, tests only) would take it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests

from ossync.localoss.responses import OSSError, Reply, error_document, invalid_argument

log = logging.getLogger("ossync.localoss")
KEY_PATH = "/_localoss/callback_pub_key.pem"  # `_` starts no bucket name
TIMEOUT = 5.0  # seconds OSS waits for the callback server
MAX_ANSWER = 1024 * 1024  # bytes of the callback server's answer relayed
MAX_FIELD = 5 * 1024
MAX_URLS = 5
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
USER_AGENT = "aliyun-oss-callback"


@dataclass(frozen=True)
class Callback:
    urls: tuple[str, ...]
    body: str
    body_type: str = FORM
    host: str | None = None


def _bad(message: str) -> OSSError:
    return invalid_argument(message, "callback")


def parse_callback(value: str) -> Callback:
    """The `callback` field, checked as OSS checks it."""
    if len(value) > MAX_FIELD:
        raise _bad("The callback parameter is too long.")
    try:
        doc = json.loads(base64.b64decode(value, validate=True))
    except (ValueError, TypeError):
        raise _bad("The callback configuration is not base64 encoded json.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("callbackUrl"), str) or \
            not isinstance(doc.get("callbackBody"), str):
        raise _bad("The callback configuration needs callbackUrl and callbackBody.")
    urls = tuple(u.strip() for u in doc["callbackUrl"].split(";") if u.strip())
    if not urls or len(urls) > MAX_URLS or any(
            urlsplit(u).scheme not in ("http", "https") or not urlsplit(u).hostname
            for u in urls):
        raise _bad("The callbackUrl is invalid.")
    body_type = doc.get("callbackBodyType", FORM)
    if body_type not in (FORM, JSON):
        raise _bad("The callbackBodyType is invalid.")
    if body_type == JSON:
        _check_json_template(doc["callbackBody"])
    host = doc.get("callbackHost")
    return Callback(urls, doc["callbackBody"], body_type,
                    host if isinstance(host, str) and host else None)


def _check_json_template(body: str) -> None:
    try:
        json.loads(_fill(body, {}, JSON, missing='""'))
    except ValueError:
        raise _bad("The callback configuration is not json format.") from None


def custom_vars(fields: Mapping[str, str]) -> dict[str, str]:
    """`x:` variables: form fields, and the base64 JSON `callback-var` field."""
    found = {k: v for k, v in fields.items() if k.startswith("x:")}
    if "callback-var" in fields:
        try:
            doc = json.loads(base64.b64decode(fields["callback-var"], validate=True))
        except (ValueError, TypeError):
            raise invalid_argument("The callback-var parameter is not base64 encoded json.",
                                   "callback-var") from None
        if isinstance(doc, dict):
            found.update({str(k).lower(): str(v) for k, v in doc.items()
                          if str(k).lower().startswith("x:")})
    return found


def _fill(template: str, values: Mapping[str, str], body_type: str, missing: str = "") -> str:
    out, rest = [], template
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, close, rest = after.partition("}")
        out.append(before)
        if not close:
            out.append("${" + name)
            break
        value = values.get(name)
        if value is None:
            out.append(missing)
        elif body_type == JSON:
            out.append(json.dumps(value, ensure_ascii=False))
        else:
            out.append(quote(value, safe=""))
    out.append(rest)
    return "".join(out)


class CallbackKey:
    """The endpoint's RSA key, made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Any = None

    def _private(self) -> Any:
        with self._lock:
            if self._key is None:
                try:
                    from cryptography.hazmat.primitives.asymmetric import rsa
                except ImportError:  # pragma: no cover - cryptography comes with `local`
                    raise OSSError(501, "NotImplemented", "local-oss needs the cryptography "
                                   "package for upload callbacks") from None
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return bytes(self._private().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return bytes(self._private().sign(data, padding.PKCS1v15(), hashes.MD5()))


def string_to_sign(url: str, body: bytes) -> bytes:
    """What OSS signs: the URL-decoded path, the raw query with its `?`, `\\n`, the body."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return (unquote(parts.path or "/") + query + "\n").encode() + body


@dataclass(frozen=True)
class Landed:
    """What the variables of a callback body tell of the stored object."""

    bucket: str
    key: str
    etag: str
    size: int
    mime_type: str
    crc64: int
    content_md5: str
    client_ip: str
    request_id: str


def make_callback(callback: Callback, landed: Landed, fields: Mapping[str, str],
                  key: CallbackKey, key_url: str, stored_headers: Mapping[str, str]) -> Reply:
    """POST the callback; its JSON answer relayed (200), else 203 CallbackFailed."""
    values = {"bucket": landed.bucket, "object": landed.key, "etag": landed.etag.strip('"'),
              "size": str(landed.size), "mimeType": landed.mime_type,
              "crc64": str(landed.crc64), "contentMd5": landed.content_md5,
              "clientIp": landed.client_ip, "reqId": landed.request_id,
              "operation": "PostObject", "vpcId": "", "imageInfo.height": "",
              "imageInfo.width": "", "imageInfo.format": "", **custom_vars(fields)}
    body = _fill(callback.body, values, callback.body_type).encode()
    reason = "no callback URL answered"
    for url in callback.urls:
        headers = {"Content-Type": callback.body_type, "User-Agent": USER_AGENT,
                   "Content-MD5": base64.b64encode(hashlib.md5(
                       body, usedforsecurity=False).digest()).decode(),
                   "Authorization": base64.b64encode(key.sign(string_to_sign(url, body))
                                                     ).decode(),
                   "x-oss-pub-key-url": base64.b64encode(key_url.encode()).decode(),
                   "x-oss-request-id": landed.request_id, "x-oss-bucket": landed.bucket,
                   "x-oss-tag": "CALLBACK"}
        if callback.host:
            headers["Host"] = callback.host
        try:
            answer = requests.post(url, data=body, headers=headers, timeout=TIMEOUT,
                                   allow_redirects=False)
        except requests.RequestException as exc:
            reason = f"the callback server did not answer ({type(exc).__name__})"
            continue
        if answer.status_code != 200:
            reason = f"Error status : {answer.status_code}."
            continue
        if len(answer.content) > MAX_ANSWER or not _is_json(answer.content):
            reason = "Response body is not valid json format."
            continue
        return Reply(200, {**stored_headers, "Content-Type": "application/json"},
                     answer.content)
    log.debug("local-oss: callback for %s failed: %s", landed.key, reason)
    failed = OSSError(203, "CallbackFailed", reason)
    return Reply(203, {**stored_headers, "Content-Type": "application/xml"},
                 error_document(failed, landed.request_id, landed.bucket))


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True
