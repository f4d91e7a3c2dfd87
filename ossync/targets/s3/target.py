"""S3-compatible stores: SigV4 form POST (default) or SigV4 header-signed PUT, and
multipart uploads for big files (`ossync.targets.s3.parts`).

No overwrite: PUT sends `If-None-Match: *` (a 412 means the key is taken), POST
looks with a HEAD first. Either way a key that already holds the same bytes
(same size and MD5, from an attempt whose answer was lost) counts as success,
and anything else is KeyTaken. What landed is verified: a PUT by Content-MD5
and x-amz-content-sha256 (the store checks both) and its ETag; a POST by a HEAD
after it (size, and the ETag where it is the MD5).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests

from ossync.core.addressing import object_url, with_query
from ossync.core.credentials import Credentials, CredentialSupply
from ossync.core.errors import StoreError
from ossync.core.objectopts import ObjectOptions, tagging_xml
from ossync.core.objects import FileChanged, KeyTaken, ListPage, UploadResult
from ossync.core.retry import RESIGN
from ossync.core.throttle import Throttle
from ossync.targets.form_body import MultipartFileBody
from ossync.targets.http import HttpTarget
from ossync.targets.multipart import Journal, MultipartSettings
from ossync.targets.multipart.engine import MultipartUploader
from ossync.targets.post_policy import PostUpload
from ossync.targets.reader import SliceReader
from ossync.targets.reading import info_from_headers, list_query, parse_list_v2, parse_tagging
from ossync.targets.s3 import options as s3_options
from ossync.targets.s3.errors import HINTS, error_from_exception, error_from_response
from ossync.targets.s3.io import (
    Digests,
    ObjectMd5,
    bucket_url,
    default_addressing,
    digests_of,
    etag_md5,
)
from ossync.targets.s3.parts import S3Parts
from ossync.targets.s3.signing import EMPTY_SHA256, header_auth, post_form_fields

_T = TypeVar("_T")
MAX_SKEW = timedelta(minutes=10)  # S3 refuses requests more than 15 minutes off


class S3Target(HttpTarget):
    """One bucket, one keep-alive session shared by all worker threads."""

    def __init__(self, *, endpoint: str, bucket: str, region: str,
                 credentials: Credentials | CredentialSupply, addressing: str | None = None,
                 method: str = "post",
                 if_none_match: bool = True, public_url: str | None = None,
                 policy_lifetime: float = 900.0, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, pool_size: int = 8,
                 multipart: MultipartSettings | None = None,
                 throttle: Throttle | None = None) -> None:
        if method not in ("post", "put"):
            raise ValueError(f"method must be post or put, not {method!r}")
        super().__init__(
            base_url=bucket_url(endpoint, bucket, addressing or default_addressing(endpoint)),
            public_url=public_url, policy_lifetime=policy_lifetime,
            connect_timeout=connect_timeout, read_timeout=read_timeout, pool_size=pool_size,
            credentials=credentials, throttle=throttle)
        self.bucket = bucket
        self.region = region
        self.method = method
        self.if_none_match = if_none_match
        settings = multipart or MultipartSettings()
        self.multipart = MultipartUploader(S3Parts(self, settings), settings)

    # --- upload --------------------------------------------------------------

    def upload(self, path: Path, key: str, *, content_type: str,
               journal: Journal | None = None,
               options: ObjectOptions | None = None) -> UploadResult:
        """Store the file under `key` (a big one in parts) with its options, tags
        included (S3 takes them with the object); raise KeyTaken, FileChanged,
        UploadInterrupted or StoreError."""
        opts = options or ObjectOptions()
        if self.multipart.wants(path.stat().st_size):
            return self.multipart.upload(path, key, content_type, journal,
                                         s3_options.headers(opts))
        send = self._put if self.method == "put" else self._post

        def attempt(creds: Credentials) -> UploadResult:
            failures = 0
            while True:  # after a clock-skew answer, signed again with the server's clock
                try:
                    return send(creds, path, key, content_type, opts)
                except StoreError as err:
                    failures += 1
                    if err.code != "RequestTimeTooSkewed" or not RESIGN.again(failures):
                        raise

        return self.with_keys(attempt)

    def abandon(self, key: str, upload_id: str | None) -> None:
        self.multipart.abandon(key, upload_id)

    def _put(self, creds: Credentials, path: Path, key: str, content_type: str,
             opts: ObjectOptions) -> UploadResult:
        with path.open("rb") as fh:
            facts = digests_of(fh)
            info = None if self.if_none_match else self.head(key)  # no If-None-Match: look
            if info is not None:
                return self._existing(key, facts, info=info)
            headers = {"Content-Type": content_type,
                       "Content-MD5": base64.b64encode(bytes.fromhex(facts.md5)).decode(),
                       **s3_options.headers(opts)}
            if self.if_none_match:
                headers["If-None-Match"] = "*"
            url = object_url(self.base_url, key)
            headers.update(header_auth(creds, method="PUT", url=url,
                                       region=self.region, now=self.now(), headers=headers,
                                       payload_sha256=facts.sha256))
            body = SliceReader(fh, facts.size, throttle=self.throttle, md5=True, whole=True)
            resp = self._send("upload", key, "PUT", url, headers, body)
        if _hex(body) != facts.md5:
            raise FileChanged("file changed while uploading (its MD5 differs from a moment ago)")
        if resp.status_code == 412:
            return self._existing(key, facts, resp=resp)
        self.check("upload", key, resp)
        etag = resp.headers.get("ETag")
        if etag is None:
            raise StoreError("upload", key, "NoETagReturned", "the store answered PUT without "
                             "an ETag", resp.status_code, _request_id(resp), retryable=True)
        stored = etag_md5(etag, resp.headers)
        if stored is not None and stored != facts.md5:
            self.delete(key)
            raise StoreError("upload", key, "ETagMismatch", f"stored ETag {etag} is not the "
                             f"file's MD5 {facts.md5}", resp.status_code, _request_id(resp),
                             retryable=True, hint="the data was damaged; will retry")
        return UploadResult(key=key, url=self.url_for(key), size=facts.size, etag=etag,
                            crc64=body.crc.value, request_id=_request_id(resp))

    def _post(self, creds: Credentials, path: Path, key: str, content_type: str,
              opts: ObjectOptions) -> UploadResult:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            info = self.head(key)  # POST cannot refuse to overwrite: look first
            if info is not None:
                return self._existing(key, digests_of(fh), info=info)
            now = self.now()
            upload = PostUpload(self.bucket, key, size, content_type,
                                s3_options.form_fields(opts))
            fields = post_form_fields(creds, upload,
                                      region=self.region, now=now,
                                      lifetime=self.form_lifetime(creds, now))
            body = MultipartFileBody(fields, fh, size, content_type, throttle=self.throttle,
                                     md5=True)
            resp = self._send("upload", key, "POST", self.base_url + "/",
                              {"Content-Type": body.content_type}, body)
        self.check("upload", key, resp)
        return self._verified_post(key, body.file, resp)

    def _verified_post(self, key: str, reader: SliceReader,
                       resp: requests.Response) -> UploadResult:
        """HEAD what the POST stored: the size, and the MD5 where the ETag is one."""
        info = self.head(key)
        md5 = _hex(reader)
        problem = None
        if info is None:
            problem = ("NotStored", "the store accepted the POST but HEAD finds no object")
        elif info.size != reader.size:
            problem = ("SizeMismatch", f"stored {info.size} bytes, sent {reader.size}")
        elif info.md5 is not None and info.md5 != md5:
            problem = ("ETagMismatch", f"stored ETag {info.etag} is not the file's MD5 {md5}")
        if problem is not None:
            if info is not None:
                self.delete(key)
            raise StoreError("upload", key, *problem, resp.status_code, _request_id(resp),
                             retryable=True, hint="the data was damaged or replaced; will retry")
        assert info is not None
        return UploadResult(key=key, url=self.url_for(key), size=reader.size, etag=info.etag,
                            crc64=reader.crc.value, request_id=_request_id(resp))

    def _existing(self, key: str, facts: Digests, *, resp: requests.Response | None = None,
                  info: ObjectMd5 | None = None) -> UploadResult:
        """The key is taken: ours from a lost answer (same size and MD5), or a clash."""
        info = info or self.head(key)
        if info is None:
            if resp is not None:
                raise error_from_response("upload", key, resp)
            raise StoreError("upload", key, "Vanished", "the object went away while it was "
                             "looked at", retryable=True)
        if info.size == facts.size and info.md5 == facts.md5:
            return UploadResult(key=key, url=self.url_for(key), size=facts.size,
                                etag=info.etag, crc64=facts.crc64, already_present=True)
        raise KeyTaken(key)

    # --- HTTP ----------------------------------------------------------------

    def _send(self, operation: str, key: str, method: str, url: str, headers: dict[str, str],
              body: Any = None) -> requests.Response:
        try:
            if method == "HEAD":
                return self.head_request(url, headers)
            return self.session.request(method, url, data=body, headers=headers,
                                        timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            if isinstance(exc.__context__, FileChanged):
                raise exc.__context__ from None
            raise error_from_exception(operation, key, exc) from None

    def check(self, operation: str, key: str, resp: requests.Response) -> None:
        """Raise the StoreError of a failed answer. A refusal for clock skew (or a bare 403
        to a HEAD, whose Date is minutes off ours) first sets our clock from the server's."""
        if resp.status_code < 300:
            return
        err = error_from_response(operation, key, resp)
        if (err.code == "RequestTimeTooSkewed" or (resp.status_code == 403 and not resp.content)
                ) and self.learn_clock(resp, MAX_SKEW):
            err = dataclasses.replace(err, code="RequestTimeTooSkewed", retryable=True,
                                      hint=HINTS["RequestTimeTooSkewed"])
        raise err

    def signed(self, creds: Credentials, method: str, key: str, *,
               query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
               data: Any = None, payload_sha256: str = EMPTY_SHA256) -> requests.Response:
        """One header-signed request for `key` ("" for the bucket: `/bucket`, path-style,
        as S3 lists it), query unencoded."""
        url = with_query(object_url(self.base_url, key) if key else self.base_url, query or {})
        headers = dict(headers or {})
        headers.update(header_auth(creds, method=method, url=url, region=self.region,
                                   now=self.now(), headers=headers,
                                   payload_sha256=payload_sha256))
        return self._send(method.lower(), key, method, url, headers, data)

    def head(self, key: str) -> ObjectMd5 | None:
        return self.with_keys(lambda creds: self._head(creds, key))

    def _head(self, creds: Credentials, key: str) -> ObjectMd5 | None:
        resp = self.signed(creds, "HEAD", key)
        if resp.status_code == 404:
            return None
        self.check("head", key, resp)
        info = info_from_headers(key, resp.headers, "amz")
        return ObjectMd5(**{f.name: getattr(info, f.name) for f in dataclasses.fields(info)},
                         md5=etag_md5(info.etag, resp.headers))

    def tag(self, key: str, tags: tuple[tuple[str, str], ...]) -> None:
        """PutObjectTagging (S3 tags go with the object; this replaces them)."""
        body = tagging_xml(tags)
        headers = {"Content-Type": "application/xml", "Content-MD5": base64.b64encode(
            hashlib.md5(body, usedforsecurity=False).digest()).decode()}
        self.with_keys(lambda creds: self.check("tag", key, self.signed(
            creds, "PUT", key, query={"tagging": ""}, headers=headers, data=body,
            payload_sha256=hashlib.sha256(body).hexdigest())))

    def tags_of(self, key: str) -> dict[str, str]:
        def send(creds: Credentials) -> dict[str, str]:
            resp = self.signed(creds, "GET", key, query={"tagging": ""})
            self.check("get tags", key, resp)
            return _parsed("get tags", key, resp, parse_tagging)

        return self.with_keys(send)

    def list_page(self, prefix: str, token: str | None) -> ListPage:
        """One page of ListObjectsV2 (1000 keys, url-encoded in the answer)."""
        def send(creds: Credentials) -> ListPage:
            resp = self.signed(creds, "GET", "", query=list_query(prefix, token))
            self.check("list", prefix, resp)
            return _parsed("list", prefix, resp, parse_list_v2)

        return self.with_keys(send)

    def delete(self, key: str) -> None:
        self.with_keys(lambda creds: self._delete(creds, key))

    def _delete(self, creds: Credentials, key: str) -> None:
        resp = self.signed(creds, "DELETE", key)
        if resp.status_code != 404:
            self.check("delete", key, resp)


def _parsed(operation: str, key: str, resp: requests.Response,
            parse: Callable[[bytes], _T]) -> _T:
    try:
        return parse(resp.content)
    except ValueError as exc:
        raise StoreError(operation, key, "MalformedAnswer", str(exc), resp.status_code,
                         _request_id(resp), retryable=True) from None


def _hex(reader: SliceReader) -> str:
    assert reader.md5 is not None, "made with md5=True"
    return reader.md5.hexdigest()


def _request_id(resp: requests.Response) -> str | None:
    return resp.headers.get("x-amz-request-id") or resp.headers.get("x-oss-request-id")
