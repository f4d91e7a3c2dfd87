"""Stage 3, the ledger: the durable work queue and the record of every upload.

`contract.Ledger` is what the rest of ossync uses; `sqlite/` is the embedded
backend (importing this package registers it). `records` holds the dataclasses
every backend returns, `errors` the exceptions, `queue.WorkQueue` the daemon's
view of the queue (the ledger plus a wake-up for idle workers). Nothing outside
this package writes SQL.
"""

from ossync.ledger.contract import Ledger, UrlSigner, item_url
from ossync.ledger.errors import (
    LedgerCorrupt,
    LedgerError,
    LedgerMissing,
    LedgerUnavailable,
    SignerMissing,
)
from ossync.ledger.queue import WorkQueue
from ossync.ledger.records import (
    STATES,
    FileRow,
    Item,
    Sighting,
    Status,
    Upload,
    now_text,
    stamp,
)
from ossync.ledger.sqlite.ledger import SqliteLedger

__all__ = [
    "STATES",
    "FileRow",
    "Item",
    "Ledger",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerMissing",
    "LedgerUnavailable",
    "Sighting",
    "SignerMissing",
    "SqliteLedger",
    "Status",
    "Upload",
    "UrlSigner",
    "WorkQueue",
    "item_url",
    "now_text",
    "stamp",
]
