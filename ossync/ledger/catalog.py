"""The catalog's conveniences, written once on top of the reads every backend makes:
`find`, `items`, `uploads`, `status`, and the URL of a path (`url_for`, `url_of`), which
`ossync.ledger.present.item_url` mints — the one place a URL is made."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from datetime import datetime

from ossync.core.units import Lifetime
from ossync.ledger.errors import SignerMissing
from ossync.ledger.present import UrlSigner, item_url
from ossync.ledger.records import Item, Status


class CatalogViews:
    signer: UrlSigner | None = None  # set by Ledger.open(signer=...): signs url_for(signed)

    @abstractmethod
    def item(self, path: str, host: str | None = None) -> Item | None: ...

    @abstractmethod
    def items_of(self, *, sha256: str | None = None, key: str | None = None) -> list[Item]:
        ...

    @abstractmethod
    def iter_items(self, *, since: datetime | None = None, until: datetime | None = None,
                   folder: str | None = None, state: str | None = "uploaded",
                   limit: int | None = None) -> Iterator[Item]: ...

    @abstractmethod
    def status_since(self, today_start: datetime) -> Status: ...

    def status(self) -> Status:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
        return self.status_since(midnight)

    def find(self, *, sha256: str | None = None, key: str | None = None,
             path: str | None = None, host: str | None = None) -> list[Item]:
        """Every path recorded for a content hash or an object key (fleet-wide), or one
        path (of `host`, default this host)."""
        if path is not None:
            found = self.item(path, host)
            return [found] if found else []
        if key is None and sha256 is None:
            raise ValueError("find() needs sha256=, key= or path=")
        return self.items_of(sha256=None if sha256 is None else sha256.lower(), key=key)

    def items(self, *, since: datetime | None = None, until: datetime | None = None,
              folder: str | None = None, state: str | None = "uploaded",
              limit: int | None = None) -> list[Item]:
        return list(self.iter_items(since=since, until=until, folder=folder, state=state,
                                    limit=limit))

    def uploads(self, *, since: datetime | None = None, until: datetime | None = None,
                folder: str | None = None) -> list[Item]:
        """Uploaded paths in a time range, newest first (the Python API's feed)."""
        return self.items(since=since, until=until, folder=folder, state="uploaded")

    def url_for(self, path: str, *, signed: bool = False, expires: Lifetime | None = None,
                process: str | None = None, host: str | None = None) -> str | None:
        """The URL of the object holding this path's current content, if uploaded.

        By default the recorded (unsigned) URL. `signed=True` mints a presigned URL with
        the signer given to `Ledger.open(..., signer=url_signer(config))` (ossync.stores),
        valid for `expires` (seconds or a timedelta; default the config's `url_expires`).
        `process` adds `x-oss-process` (e.g. `image/resize,w_300`), signed when signing.
        """
        found = self.item(path, host)
        if found is None:
            return None
        return self.url_of(found, signed=signed, expires=expires, process=process)

    def url_of(self, item: Item, *, signed: bool = False, expires: Lifetime | None = None,
               process: str | None = None) -> str | None:
        """An item's URL as `url_for` gives it (None until it is uploaded)."""
        if signed and self.signer is None:
            raise SignerMissing("signed URLs need credentials: open the ledger with "
                                "Ledger.open(..., signer=url_signer(config)) "
                                "(ossync.stores)")
        return item_url(item, self.signer if signed else None, expires=expires,
                        process=process)
