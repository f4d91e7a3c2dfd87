"""An item as programs see it, one place for the CLI and the HTTP API: `record` is the
JSON contract of `ossync show --json`, `ls --json` and `GET /v1/files`; `UrlChoice`
puts the chosen URL in it (the recorded one, or one signed at one moment); `with_copies`
adds each file's copies in the replicas."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from ossync.core.addressing import with_process
from ossync.core.textforms import ledger_text
from ossync.core.units import Lifetime
from ossync.ledger.contracts import CopyCatalog
from ossync.ledger.records import Item, stamp

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime


class UrlSigner(Protocol):
    """Mints a presigned GET URL for an object (`ossync.targets.oss.presign.UrlSigner`)."""

    @property
    def expires(self) -> float: ...  # the default lifetime (the config's url_expires)

    @property
    def clock(self) -> Callable[[], datetime]: ...  # signs "now": one moment per command

    def sign(self, bucket: str, key: str, *, expires: Lifetime | None = None,
             process: str | None = None) -> str: ...

    def lifetime(self, expires: Lifetime | None = None, now: datetime | None = None
                 ) -> float: ...


def item_url(item: Item, signer: UrlSigner | None, *, expires: Lifetime | None = None,
             process: str | None = None) -> str | None:
    """The one place a URL is made: signed by `signer` if one is given, else the recorded
    URL (with `process` added); None until the item is uploaded."""
    if item.url is None or item.bucket is None or item.key is None:
        return None
    if signer is None:
        return with_process(item.url, process)
    return signer.sign(item.bucket, item.key, expires=expires, process=process)


def record(item: Item) -> dict[str, Any]:
    """An item as the JSON/CSV contract spells it: paths in the ledger form, valid UTF-8
    even when a name is not (ossync.core.textforms)."""
    data = dataclasses.asdict(item)
    data.pop("mtime_ns")
    for name in ("path", "uploaded_from"):
        if data[name] is not None:
            data[name] = ledger_text(data[name])
    return data


def with_copies(rows: list[dict[str, Any]], items: Sequence[Item], catalog: CopyCatalog
                ) -> list[dict[str, Any]]:
    """Each row with `copies`: its file's copy in each replica (state, object, plain URL;
    empty without replicas), as `show --json` and `/v1/files` spell them."""
    found = catalog.copies_for((i.host, i.path) for i in items)
    for row, item in zip(rows, items, strict=True):
        row["copies"] = [dataclasses.asdict(c) for c in found.get((item.host, item.path), [])]
    return rows


@dataclass(frozen=True)
class UrlChoice:
    """Which URLs a command prints: recorded ones, or signed at one moment for `expires`."""

    signer: UrlSigner | None = None
    expires: float = 0.0
    process: str | None = None

    def row(self, item: Item) -> dict[str, Any]:
        """`record(item)` with `url` as chosen (and `url_expires_at` when signed)."""
        data = record(item)
        if self.signer is None and not self.process:
            return data
        data["url"] = item_url(item, self.signer, expires=self.expires, process=self.process)
        if self.signer is not None and data["url"]:
            moment = self.signer.clock().replace(microsecond=0)
            life = self.signer.lifetime(self.expires, moment)  # cut to the STS token's life
            data["url_expires_at"] = stamp(moment + timedelta(seconds=int(life)))
        return data
