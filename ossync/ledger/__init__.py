"""Stage 3, the ledger: the durable work queue and the record of every upload.

`contracts` holds what each caller may do (`Intake`, `Queue`, `Upkeep`, `Checkpoints`,
`Catalog`, `Requeue`, `Recorder`, `Copier`, `Feed`, `Outbox`, `AppUploads`),
`contract.Ledger` all of them at once and how to open one; `sqlite/` is the embedded
backend, `postgres/` the shared one (importing this package registers both); `sql/`
holds the statements they share, `waking` the queue's wake-up, `events` the types of
events and their data, `bell` their wake-up, `catalog` the read-side conveniences,
`present` the JSON of an item and the one place a URL is made, `outcomes` how a claimed
row ended, `records` the dataclasses every backend returns, `errors` the exceptions.
Nothing outside this package writes SQL.
"""

from ossync.ledger.contract import Ledger
from ossync.ledger.contracts import (
    AppUploads,
    Catalog,
    Checkpoints,
    Copier,
    Feed,
    Intake,
    Outbox,
    Queue,
    Recorder,
    Requeue,
    Upkeep,
    WorkQueue,
)
from ossync.ledger.errors import (
    LedgerCorrupt,
    LedgerError,
    LedgerMissing,
    LedgerUnavailable,
    SignerMissing,
)
from ossync.ledger.outcomes import Aliased, Deferred, Outcome, Settled, Uploaded, Vanished
from ossync.ledger.postgres.connect import display_location, location_secrets
from ossync.ledger.postgres.ledger import PostgresLedger
from ossync.ledger.present import UrlSigner, item_url
from ossync.ledger.records import (
    STATES,
    Content,
    Delivery,
    Event,
    FileRow,
    Issued,
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
    "Aliased",
    "AppUploads",
    "Catalog",
    "Checkpoints",
    "Content",
    "Copier",
    "Deferred",
    "Delivery",
    "Event",
    "Feed",
    "FileRow",
    "Intake",
    "Issued",
    "Item",
    "Ledger",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerMissing",
    "LedgerUnavailable",
    "MultipartRow",
    "Outbox",
    "Outcome",
    "PostgresLedger",
    "Queue",
    "Recorder",
    "Requeue",
    "Settled",
    "Sighting",
    "SignerMissing",
    "SqliteLedger",
    "Status",
    "Upkeep",
    "Upload",
    "Uploaded",
    "UrlSigner",
    "Vanished",
    "WorkQueue",
    "display_location",
    "item_url",
    "location_secrets",
    "now_text",
    "stamp",
]
