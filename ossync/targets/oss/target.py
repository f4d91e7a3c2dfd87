"""Alibaba Cloud OSS: signed form POST (PostObject) uploads, multipart uploads for big
files (`ossync.targets.oss.parts`), header-signed HEAD and DELETE.

Every upload is verified by the CRC-64 OSS returns; a retry that meets its own
earlier object (the answer was lost after OSS stored it) counts as success.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import requests

from ossync.core.addressing import bucket_url, object_url, with_query
from ossync.core.chunks import chunks
from ossync.core.crc64 import Crc64
from ossync.core.credentials import Credentials, CredentialSupply
from ossync.core.errors import StoreError
from ossync.core.objectopts import ObjectOptions, tagging_xml
from ossync.core.objects import FileChanged, KeyTaken, ListPage, ObjectInfo, UploadResult
from ossync.core.retry import RESIGN
from ossync.core.throttle import Throttle
from ossync.targets.form_body import MultipartFileBody
from ossync.targets.http import HttpTarget
from ossync.targets.multipart import Journal, MultipartSettings
from ossync.targets.multipart.engine import MultipartUploader
from ossync.targets.oss import options as oss_options
from ossync.targets.oss.errors import error_from_exception, error_from_response
from ossync.targets.oss.parts import OssParts
from ossync.targets.oss.signing import post_form_fields, v1_header_auth, v4_header_auth
from ossync.targets.post_policy import PostUpload
from ossync.targets.reader import open_for_sending
from ossync.targets.reading import info_from_headers, list_query, parse_list_v2, parse_tagging

_T = TypeVar("_T")


def crc64_of_file(path: Path) -> int:
    crc = Crc64()
    with path.open("rb") as fh:
        for chunk in chunks(fh):
            crc.update(chunk)
    return crc.value


class OssTarget(HttpTarget):
    """One bucket, one keep-alive session shared by all worker threads."""

    def __init__(self, *, endpoint: str, bucket: str, region: str,
                 credentials: Credentials | CredentialSupply, signature_version: int = 4,
                 cname: bool = False, public_url: str | None = None,
                 policy_lifetime: float = 900.0, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, pool_size: int = 8,
                 multipart: MultipartSettings | None = None,
                 throttle: Throttle | None = None) -> None:
        super().__init__(base_url=bucket_url(endpoint, bucket, cname=cname),
                         public_url=public_url, policy_lifetime=policy_lifetime,
                         connect_timeout=connect_timeout, read_timeout=read_timeout,
                         pool_size=pool_size, credentials=credentials, throttle=throttle)
        self.bucket = bucket
        self.region = region
        self.signature_version = signature_version
        self.multipart = MultipartUploader(OssParts(self), multipart or MultipartSettings())

    # --- upload --------------------------------------------------------------

    def upload(self, path: Path, key: str, *, content_type: str,
               journal: Journal | None = None,
               options: ObjectOptions | None = None) -> UploadResult:
        """POST the file under `key` (a big one in parts); raise KeyTaken, FileChanged,
        UploadInterrupted or StoreError. PostObject takes no tags: after a POST they are
        owed (`tagging_owed`), as they are for an object an earlier attempt stored."""
        opts = options or ObjectOptions()
        if self.multipart.wants(path.stat().st_size):
            result = self.multipart.upload(path, key, content_type, journal,
                                           oss_options.headers(opts))
            owed = result.already_present
        else:
            fields = oss_options.form_fields(opts)
            result = self.with_keys(
                lambda creds: self._post(creds, path, key, content_type, fields))
            owed = True
        return dataclasses.replace(result, tagging_owed=owed) if owed and opts.tags else result

    def tag(self, key: str, tags: tuple[tuple[str, str], ...]) -> None:
        """PutObjectTagging: the object's tags, replacing any it has."""
        body = tagging_xml(tags)
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        headers = {"Content-Type": "application/xml", "Content-MD5": md5}

        def send(creds: Credentials) -> None:
            resp = self.signed(creds, "PUT", key, query={"tagging": ""}, headers=headers,
                               data=body)
            if resp.status_code >= 300:
                raise error_from_response("tag", key, resp)

        self.with_keys(send)

    def abandon(self, key: str, upload_id: str | None) -> None:
        self.multipart.abandon(key, upload_id)

    def _post(self, creds: Credentials, path: Path, key: str, content_type: str,
              extra: tuple[tuple[str, str], ...] = (), failures: int = 0) -> UploadResult:
        """One signed POST; a clock-skew answer teaches us the server's clock, and the
        form is signed again and sent once more (`RESIGN`)."""
        with open_for_sending(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            now = self.now()
            fields = post_form_fields(
                creds, PostUpload(self.bucket, key, size, content_type, extra),
                region=self.region, now=now, lifetime=self.form_lifetime(creds, now),
                version=self.signature_version,
            )
            body = MultipartFileBody(fields, fh, size, content_type, throttle=self.throttle)
            try:
                resp = self.post_form(body)
            except requests.RequestException as exc:
                if isinstance(exc.__context__, FileChanged):
                    raise exc.__context__ from None
                raise error_from_exception("upload", key, exc) from None
            if resp.status_code == 409:
                return self.existing(path, key, size)
            if resp.status_code >= 300:
                err = error_from_response("upload", key, resp)
                if (err.code == "RequestTimeTooSkewed" and RESIGN.again(failures + 1)
                        and self.learn_clock(resp)):
                    return self._post(creds, path, key, content_type, extra, failures + 1)
                raise err
            return self._verified(key, size, body.crc.value, resp)

    def _verified(self, key: str, size: int, crc: int, resp: requests.Response) -> UploadResult:
        returned = resp.headers.get("x-oss-hash-crc64ecma")
        etag = resp.headers.get("ETag")
        request_id = resp.headers.get("x-oss-request-id")
        if returned is None:
            info = self.head(key)
            returned = str(info.crc64) if info and info.crc64 is not None else None
        if returned is None:
            raise StoreError("upload", key, "NoCrcReturned", "the store returned no CRC-64 "
                             "to verify the upload", resp.status_code, request_id,
                             retryable=True)
        if int(returned) != crc:
            self.delete(key)
            raise StoreError("upload", key, "CrcMismatch", f"stored CRC-64 {returned} "
                             f"differs from the file's {crc}", resp.status_code, request_id,
                             retryable=True, hint="the data was damaged in transit; will retry")
        return UploadResult(key=key, url=self.url_for(key), size=size, etag=etag,
                            crc64=crc, request_id=request_id)

    def existing(self, path: Path, key: str, size: int, crc: int | None = None
                 ) -> UploadResult:
        """The key is taken (FileAlreadyExists): ours from a lost answer (same size and
        CRC-64; `crc` spares reading the file for it) or a clash (KeyTaken)."""
        info = self.head(key)
        if info is None:
            raise StoreError("upload", key, "Vanished", "the object that refused the "
                             "overwrite went away while it was looked at", retryable=True)
        if info.size == size and info.crc64 == (crc64_of_file(path) if crc is None else crc):
            return UploadResult(key=key, url=self.url_for(key), size=size, etag=info.etag,
                                crc64=info.crc64, already_present=True)
        raise KeyTaken(key)

    # --- header-signed requests ---------------------------------------------

    def signed(self, creds: Credentials, method: str, key: str, *,
               query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
               data: Any = None) -> requests.Response:
        """One header-signed request (V4 or V1) for `key` ("" for the bucket); the query
        values unencoded. Network trouble becomes a retryable StoreError."""
        headers = dict(headers or {})
        if self.signature_version == 4:
            auth = v4_header_auth(creds, method=method, bucket=self.bucket, key=key,
                                  region=self.region, now=self.now(), headers=headers,
                                  query=query)
        else:
            auth = v1_header_auth(creds, method=method, bucket=self.bucket, key=key,
                                  now=self.now(), headers=headers, query=query)
        url = with_query(object_url(self.base_url, key), query or {})
        try:
            if method == "HEAD":
                return self.head_request(url, {**headers, **auth})
            return self.session.request(method, url, headers={**headers, **auth}, data=data,
                                        timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            if isinstance(exc.__context__, FileChanged):
                raise exc.__context__ from None
            raise error_from_exception(method.lower(), key, exc) from None

    def head(self, key: str) -> ObjectInfo | None:
        return self.with_keys(lambda creds: self._head(creds, key))

    def _head(self, creds: Credentials, key: str) -> ObjectInfo | None:
        resp = self.signed(creds, "HEAD", key)
        if resp.status_code == 404:
            return None
        if resp.status_code >= 300:
            raise error_from_response("head", key, resp)
        return info_from_headers(key, resp.headers, "oss")

    def tags_of(self, key: str) -> dict[str, str]:
        """GetObjectTagging."""
        def send(creds: Credentials) -> dict[str, str]:
            resp = self.signed(creds, "GET", key, query={"tagging": ""})
            if resp.status_code >= 300:
                raise error_from_response("get tags", key, resp)
            return _parsed("get tags", key, resp, parse_tagging)

        return self.with_keys(send)

    def list_page(self, prefix: str, token: str | None) -> ListPage:
        """One page of ListObjectsV2 (1000 keys, url-encoded in the answer)."""
        def send(creds: Credentials) -> ListPage:
            resp = self.signed(creds, "GET", "", query=list_query(prefix, token))
            if resp.status_code >= 300:
                raise error_from_response("list", prefix, resp)
            return _parsed("list", prefix, resp, parse_list_v2)

        return self.with_keys(send)

    def delete(self, key: str) -> None:
        self.with_keys(lambda creds: self._delete(creds, key))

    def _delete(self, creds: Credentials, key: str) -> None:
        resp = self.signed(creds, "DELETE", key)
        if resp.status_code >= 300 and resp.status_code != 404:
            raise error_from_response("delete", key, resp)


def _parsed(operation: str, key: str, resp: requests.Response,
            parse: Callable[[bytes], _T]) -> _T:
    try:
        return parse(resp.content)
    except ValueError as exc:
        raise StoreError(operation, key, "MalformedAnswer", str(exc), resp.status_code,
                         resp.headers.get("x-oss-request-id"), retryable=True) from None
