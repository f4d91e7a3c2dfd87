"""Stage 3, the ledger: the durable work queue and the record of every upload.

`contract.Ledger` is what the rest of ossync uses; `sqlite/` is the embedded
backend, `postgres/` the shared one (importing this package registers both; `sql/`
holds the statements they share). `records` holds the dataclasses
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
from ossync.ledger.postgres.connect import display_location, location_secrets
from ossync.ledger.postgres.ledger import PostgresLedger
from ossync.ledger.queue import WorkQueue
from ossync.ledger.records import (
    STATES,
    Content,
    FileRow,
    Item,
    MultipartRow,
    Sighting,
    Status,
    Upload,
    now_text,
    stamp,
)
from ossync.ledger.sqlite.ledger import SqliteLedger

__all__ = [
    "STATES",
    "Content",
    "FileRow",
    "Item",
    "Ledger",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerMissing",
    "LedgerUnavailable",
    "MultipartRow",
    "PostgresLedger",
    "Sighting",
    "SignerMissing",
    "SqliteLedger",
    "Status",
    "Upload",
    "UrlSigner",
    "WorkQueue",
    "display_location",
    "item_url",
    "location_secrets",
    "now_text",
    "stamp",
]
