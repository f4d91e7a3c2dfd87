"""OSS's multipart requests for `ossync.targets.multipart.engine`: InitiateMultipartUpload
and CompleteMultipartUpload with `x-oss-forbid-overwrite`, UploadPart checked by the
part's CRC-64, ListParts, AbortMultipartUpload and ListMultipartUploads, all
header-signed (V4 or V1) through `OssTarget.signed`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Protocol, TypeVar

import requests

from ossync.core.crc64 import crc64_of_parts
from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.core.limits import OSS_MIN_PART
from ossync.core.objects import Part, UploadResult
from ossync.core.retry import RESIGN
from ossync.core.throttle import Throttle
from ossync.targets.multipart import documents as xml
from ossync.targets.multipart.engine import Completed, ObjectExists
from ossync.targets.multipart.requests import PartRequests
from ossync.targets.oss.errors import error_from_response
from ossync.targets.reader import SliceReader


class SignedTarget(Protocol):
    """What the parts need of `OssTarget`: its signed requests, keys, clock and cap."""

    throttle: Throttle | None

    def signed(self, creds: Credentials, method: str, key: str, *,
               query: Mapping[str, str] | None = None,
               headers: Mapping[str, str] | None = None, data: Any = None
               ) -> requests.Response: ...

    def with_keys(self, send: Callable[[Credentials], _T]) -> _T: ...

    def learn_clock(self, resp: requests.Response) -> bool: ...

    def url_for(self, key: str) -> str: ...

    def delete(self, key: str) -> None: ...

    def existing(self, path: Path, key: str, size: int, crc: int | None = None
                 ) -> UploadResult: ...


_T = TypeVar("_T")
FORBID = {"x-oss-forbid-overwrite": "true"}


class OssParts(PartRequests):
    list_query: ClassVar[Mapping[str, str]] = {"encoding-type": "url"}
    min_part_size = OSS_MIN_PART

    def __init__(self, target: SignedTarget) -> None:
        self.target = target

    def url_for(self, key: str) -> str:
        return self.target.url_for(key)

    def delete(self, key: str) -> None:
        self.target.delete(key)

    def initiate(self, key: str, content_type: str,
                 headers: Mapping[str, str] | None = None) -> str:
        resp = self._send("initiate upload", key, "POST", {"uploads": ""},
                          {"Content-Type": content_type, **(headers or {}), **FORBID},
                          accept=(409,))
        if resp.status_code == 409:
            raise ObjectExists(key)
        try:
            return xml.upload_id(resp.content)
        except ValueError as exc:
            raise _bad_answer("initiate upload", key, resp, exc) from None

    def upload_part(self, key: str, upload_id: str, number: int, fh: BinaryIO,
                    length: int) -> Part:
        start = fh.tell()
        readers: list[SliceReader] = []

        def body() -> SliceReader:
            fh.seek(start)
            readers.append(SliceReader(fh, length, throttle=self.target.throttle))
            return readers[-1]

        resp = self._send("upload part", key, "PUT",
                          {"partNumber": str(number), "uploadId": upload_id}, body=body)
        crc = readers[-1].crc.value
        returned = resp.headers.get("x-oss-hash-crc64ecma")
        etag = resp.headers.get("ETag")
        if etag is None or (returned is not None and int(returned) != crc):
            raise StoreError("upload part", key, "CrcMismatch", f"part {number}: stored "
                             f"CRC-64 {returned}, sent {crc} (ETag {etag})", resp.status_code,
                             resp.headers.get("x-oss-request-id"), retryable=True,
                             hint="the data was damaged in transit; will retry")
        return Part(number, length, etag, crc)

    def complete(self, key: str, upload_id: str, parts: list[Part]) -> Completed:
        body = xml.complete_body(parts)
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        resp = self._send("complete upload", key, "POST", {"uploadId": upload_id},
                          {"Content-Type": "application/xml", "Content-MD5": md5, **FORBID},
                          body=lambda: body, accept=(409,))
        if resp.status_code == 409:
            raise ObjectExists(key)
        crc = resp.headers.get("x-oss-hash-crc64ecma")
        return Completed(resp.headers.get("ETag") or xml.completed_etag(resp.content),
                         int(crc) if crc else None, resp.headers.get("x-oss-request-id"))

    def existing(self, path: Path, key: str, size: int, parts: list[Part] | None
                 ) -> UploadResult:
        crc = None
        if parts is not None and all(p.crc64 is not None for p in parts):
            crc = crc64_of_parts((p.crc64 or 0, p.size) for p in parts)
        return self.target.existing(path, key, size, crc)

    def _error(self, operation: str, key: str, resp: requests.Response) -> StoreError:
        return error_from_response(operation, key, resp)

    def _send(self, operation: str, key: str, method: str, query: Mapping[str, str],
              headers: Mapping[str, str] | None = None,
              body: Callable[[], object] | None = None, accept: tuple[int, ...] = ()
              ) -> requests.Response:
        """Sign and send (signed again once if the clock was off, `RESIGN`; with fresh
        keys if the store refused them); an error answer not in `accept` raises
        StoreError."""

        def attempt(creds: Credentials) -> requests.Response:
            failures = 0
            while True:
                resp = self.target.signed(creds, method, key, query=query, headers=headers,
                                          data=body() if body else b"")
                if resp.status_code < 300 or resp.status_code in accept:
                    return resp
                err = error_from_response(operation, key, resp)
                failures += 1
                if not (RESIGN.again(failures) and err.code == "RequestTimeTooSkewed"
                        and self.target.learn_clock(resp)):
                    raise err

        return self.target.with_keys(attempt)


def _bad_answer(operation: str, key: str, resp: requests.Response, exc: Exception
                ) -> StoreError:
    return StoreError(operation, key, "MalformedAnswer", str(exc), resp.status_code,
                      resp.headers.get("x-oss-request-id"), retryable=True)
