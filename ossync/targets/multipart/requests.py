"""What OSS's and S3's part stores share: the listings, Abort, and the rule that a 404
`NoSuchUpload` means "gone" (completed or aborted), not an error. Each store brings
`_send` (its signing, clock and key handling) and `_error` (its error mapping)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import requests

from ossync.core.errors import StoreError
from ossync.core.objects import Part
from ossync.targets.multipart import documents as xml
from ossync.targets.multipart.documents import PendingUpload


class PartRequests(ABC):
    """Base of a `PartStore`: the requests whose shape both stores share."""

    list_query: ClassVar[Mapping[str, str]] = {}  # extra ListMultipartUploads parameters

    @abstractmethod
    def _send(self, operation: str, key: str, method: str, query: Mapping[str, str],
              headers: Mapping[str, str] | None = None,
              body: Callable[[], Any] | None = None, accept: tuple[int, ...] = ()
              ) -> requests.Response:
        """Sign and send; an error answer not in `accept` raises StoreError."""

    @abstractmethod
    def _error(self, operation: str, key: str, resp: requests.Response) -> StoreError: ...

    def list_parts(self, key: str, upload_id: str) -> list[Part] | None:
        def page(marker: dict[str, str]) -> bytes | None:
            resp = self._send("list parts", key, "GET",
                              {"uploadId": upload_id, "max-parts": "1000", **marker},
                              accept=(404,))
            if resp.status_code == 404:
                self._no_such_upload("list parts", key, resp)
                return None
            return resp.content

        return xml.all_parts(page)

    def abort(self, key: str, upload_id: str) -> None:
        resp = self._send("abort upload", key, "DELETE", {"uploadId": upload_id},
                          accept=(404,))
        if resp.status_code == 404:
            self._no_such_upload("abort upload", key, resp)

    def list_uploads(self, prefix: str) -> list[PendingUpload]:
        query = {"uploads": "", "prefix": prefix, "max-uploads": "1000", **self.list_query}
        return xml.all_uploads(
            lambda marker: self._send("list uploads", "", "GET", {**query, **marker}).content)

    def _no_such_upload(self, operation: str, key: str, resp: requests.Response) -> None:
        """A 404 that means the upload is gone is no error; a missing bucket is."""
        err = self._error(operation, key, resp)
        if err.code != "NoSuchUpload":
            raise err
