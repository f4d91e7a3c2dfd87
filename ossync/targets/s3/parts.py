"""S3's multipart requests for `ossync.targets.multipart.engine` (SigV4 header-signed).

S3 has no forbid-overwrite on CreateMultipartUpload, so a HEAD looks first; Complete
carries `If-None-Match: *` (with `s3.if_none_match`, as AWS, MinIO and recent Ceph
honour it; a 412 means the key is taken). Each part is sent with its Content-MD5, so
the store refuses damaged bytes; the parts are then checked once more by a HEAD of the
object: its size and its multipart ETag (the MD5 of the parts' MD5s, `-N`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

import requests

from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.core.limits import S3_MIN_PART
from ossync.core.objects import FileChanged, KeyTaken, Part, UploadResult
from ossync.core.retry import RESIGN
from ossync.core.throttle import Throttle
from ossync.targets.multipart import MultipartSettings, plan_parts
from ossync.targets.multipart import documents as xml
from ossync.targets.multipart.engine import Completed, ObjectExists
from ossync.targets.multipart.requests import PartRequests
from ossync.targets.reader import SliceReader, digest_slice
from ossync.targets.s3.errors import error_from_response
from ossync.targets.s3.io import ObjectMd5, digests_of, etag_md5
from ossync.targets.s3.signing import EMPTY_SHA256


class SignedTarget(Protocol):
    """What the parts need of `S3Target`: its signed requests, keys, checks and cap."""

    throttle: Throttle | None
    if_none_match: bool

    def signed(self, creds: Credentials, method: str, key: str, *,
               query: Mapping[str, str] | None = None,
               headers: Mapping[str, str] | None = None, data: Any = None,
               payload_sha256: str = EMPTY_SHA256) -> requests.Response: ...

    def with_keys(self, send: Callable[[Credentials], _T]) -> _T: ...

    def check(self, operation: str, key: str, resp: requests.Response) -> None: ...

    def head(self, key: str) -> ObjectMd5 | None: ...

    def url_for(self, key: str) -> str: ...

    def delete(self, key: str) -> None: ...


_T = TypeVar("_T")
UNSIGNED = "UNSIGNED-PAYLOAD"  # the part's Content-MD5 protects it instead


def multipart_etag(md5s: list[str]) -> str:
    """The ETag S3 gives an object made of parts with these MD5s (hex)."""
    joined = b"".join(bytes.fromhex(m) for m in md5s)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(md5s)}"


class S3Parts(PartRequests):
    min_part_size = S3_MIN_PART

    def __init__(self, target: SignedTarget, settings: MultipartSettings) -> None:
        self.target = target
        self.settings = settings  # how our own uploads cut a file, to know their ETag

    def url_for(self, key: str) -> str:
        return self.target.url_for(key)

    def delete(self, key: str) -> None:
        self.target.delete(key)

    def initiate(self, key: str, content_type: str,
                 headers: Mapping[str, str] | None = None) -> str:
        if self.target.head(key) is not None:
            raise ObjectExists(key)
        resp = self._send("initiate upload", key, "POST", {"uploads": ""},
                          {"Content-Type": content_type, **(headers or {})})
        try:
            return xml.upload_id(resp.content)
        except ValueError as exc:
            raise StoreError("initiate upload", key, "MalformedAnswer", str(exc),
                             resp.status_code, _request_id(resp), retryable=True) from None

    def upload_part(self, key: str, upload_id: str, number: int, fh: BinaryIO,
                    length: int) -> Part:
        start = fh.tell()
        md5, crc = digest_slice(fh, start, length)
        readers: list[SliceReader] = []

        def body() -> SliceReader:
            fh.seek(start)
            readers.append(SliceReader(fh, length, throttle=self.target.throttle))
            return readers[-1]

        headers = {"Content-MD5": base64.b64encode(bytes.fromhex(md5)).decode(),
                   "Content-Length": str(length)}
        resp = self._send("upload part", key, "PUT",
                          {"partNumber": str(number), "uploadId": upload_id}, headers,
                          body=body, payload=UNSIGNED)
        sent = readers[-1]
        if sent.crc.value != crc:
            raise FileChanged(f"part {number} changed while it was sent")
        etag = resp.headers.get("ETag", "")
        stored = etag_md5(etag, resp.headers)
        if not etag or (stored is not None and stored != md5):
            raise StoreError("upload part", key, "ETagMismatch", f"part {number}: ETag "
                             f"{etag!r} is not its MD5 {md5}", resp.status_code,
                             _request_id(resp), retryable=True,
                             hint="the data was damaged; will retry")
        return Part(number, length, etag, crc)

    def complete(self, key: str, upload_id: str, parts: list[Part]) -> Completed:
        body = xml.complete_body(parts)
        headers = {"Content-Type": "application/xml"}
        if self.target.if_none_match:
            headers["If-None-Match"] = "*"
        resp = self._send("complete upload", key, "POST", {"uploadId": upload_id}, headers,
                          body=lambda: body, payload=hashlib.sha256(body).hexdigest(),
                          accept=(412,))
        if resp.status_code == 412:
            raise ObjectExists(key)
        code = xml.error_code(resp.content)
        if code is not None:  # S3 may fail a Complete with status 200
            raise StoreError("complete upload", key, code, "the store refused to join the "
                             "parts", resp.status_code, _request_id(resp), retryable=True)
        self._check_object(key, parts)
        return Completed(xml.completed_etag(resp.content) or resp.headers.get("ETag"), None,
                         _request_id(resp))

    def _check_object(self, key: str, parts: list[Part]) -> None:
        """HEAD the joined object: its size, and its ETag where it is the parts' ETag."""
        info = self.target.head(key)
        size = sum(p.size for p in parts)
        expected = multipart_etag([p.etag.strip('"') for p in parts])
        got = (info.etag or "").strip('"').lower() if info else ""
        if info is None or info.size != size or ("-" in got and got != expected):
            if info is not None:
                self.target.delete(key)
            raise StoreError("complete upload", key, "ETagMismatch", f"the joined object is "
                             f"not the parts sent (size {info.size if info else None} vs "
                             f"{size}, ETag {got} vs {expected})", retryable=True,
                             hint="the data was damaged or replaced; will retry")

    def existing(self, path: Path, key: str, size: int, parts: list[Part] | None
                 ) -> UploadResult:
        """Ours if the size and the ETag match: a plain MD5, or the multipart ETag of our
        parts (from `parts`, or from the file cut as we would cut it)."""
        info = self.target.head(key)
        if info is None:
            raise StoreError("upload", key, "Vanished", "the object went away while it was "
                             "looked at", retryable=True)
        got = (info.etag or "").strip('"').lower()
        if info.size == size and (
            (info.md5 is not None and info.md5 == self._file_md5(path))
            or ("-" in got and got == self._expected_etag(path, size, parts))
        ):
            return UploadResult(key=key, url=self.url_for(key), size=size, etag=info.etag,
                                crc64=None, already_present=True)
        raise KeyTaken(key)

    @staticmethod
    def _file_md5(path: Path) -> str:
        with path.open("rb") as fh:
            return digests_of(fh).md5

    def _expected_etag(self, path: Path, size: int, parts: list[Part] | None) -> str:
        if parts is not None:
            return multipart_etag([p.etag.strip('"').lower() for p in parts])
        plan = plan_parts(size, self.settings.part_size, self.min_part_size)
        with path.open("rb") as fh:
            return multipart_etag([digest_slice(fh, *plan.span(n))[0]
                                   for n in range(1, plan.count + 1)])

    def _error(self, operation: str, key: str, resp: requests.Response) -> StoreError:
        return error_from_response(operation, key, resp)

    def _send(self, operation: str, key: str, method: str, query: Mapping[str, str],
              headers: Mapping[str, str] | None = None,
              body: Callable[[], Any] | None = None, accept: tuple[int, ...] = (),
              payload: str = EMPTY_SHA256) -> requests.Response:
        """Sign and send (again once, signed anew, if our clock was off: `RESIGN`; with
        fresh keys if the store refused them); an error answer not in `accept` raises
        StoreError."""

        def attempt(creds: Credentials) -> requests.Response:
            failures = 0
            while True:
                resp = self.target.signed(creds, method, key, query=query, headers=headers,
                                          data=body() if body else b"",
                                          payload_sha256=payload)
                if resp.status_code < 300 or resp.status_code in accept:
                    return resp
                try:
                    self.target.check(operation, key, resp)
                except StoreError as err:
                    failures += 1
                    if not (err.code == "RequestTimeTooSkewed" and RESIGN.again(failures)):
                        raise

        return self.target.with_keys(attempt)


def _request_id(resp: requests.Response) -> str | None:
    return resp.headers.get("x-amz-request-id") or resp.headers.get("x-oss-request-id")
