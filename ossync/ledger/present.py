"""An item as programs see it, one place for the CLI and the HTTP API: `record` is the
JSON contract of `ossync show --json`, `ls --json` and `GET /v1/files`; `UrlChoice`
puts the chosen URL in it (the recorded one, or one signed at one moment)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ossync.core.textforms import ledger_text
from ossync.core.units import Lifetime
from ossync.ledger.contract import UrlSigner, item_url
from ossync.ledger.records import Item, stamp


class TimedSigner(UrlSigner, Protocol):
    """A signer that tells how long its URLs live (`ossync.targets.oss.presign.UrlSigner`;
    named by shape, so the ledger needs no store)."""

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def lifetime(self, expires: Lifetime | None = None, now: datetime | None = None
                 ) -> float: ...


def record(item: Item) -> dict[str, Any]:
    """An item as the JSON/CSV contract spells it: paths in the ledger form, valid UTF-8
    even when a name is not (ossync.core.textforms)."""
    data = dataclasses.asdict(item)
    data.pop("mtime_ns")
    for name in ("path", "uploaded_from"):
        if data[name] is not None:
            data[name] = ledger_text(data[name])
    return data


@dataclass(frozen=True)
class UrlChoice:
    """Which URLs a command prints: recorded ones, or signed at one moment for `expires`."""

    signer: TimedSigner | None = None
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
