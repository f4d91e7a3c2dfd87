"""Stage 3, the ledger: the durable work queue and the record of every upload.

`contracts` holds what each caller may do (`Intake`, `Queue`, `Upkeep`, `Checkpoints`,
`Catalog`, `Requeue`, `Recorder`, `Copier`, `Feed`, `Outbox`, `AppUploads`, and for the
replicas `Fanout`, `CopyQueue`, `Backfill`, `CopyCatalog`), `contract.Ledger` all of
them at once and how to open one; `sqlite/` is the embedded backend, `postgres/` the
shared one (importing this package registers both); `sql/` holds the statements they
share, `waking` the queue's wake-up, `events` the types of events and their data, `bell`
their wake-up, `catalog` the read-side conveniences, `present` the JSON of an item and
the one place a URL is made, `outcomes` how a claimed row ended, `records` the
dataclasses every backend returns, `errors` the exceptions. Nothing outside this package
writes SQL.
"""

from ossync.ledger.contract import Ledger
from ossync.ledger.contracts import (
    AppUploads,
    Backfill,
    Catalog,
    Checkpoints,
    Copier,
    CopyCatalog,
    CopyQueue,
    Fanout,
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
from ossync.ledger.outcomes import (
    Aliased,
    Copied,
    CopyAliased,
    CopyOutcome,
    Deferred,
    Outcome,
    Settled,
    Uploaded,
    Vanished,
)
from ossync.ledger.postgres.connect import display_location, location_secrets
from ossync.ledger.postgres.ledger import PostgresLedger
from ossync.ledger.present import UrlSigner, item_url
from ossync.ledger.records import (
    STATES,
    Content,
    Copy,
    CopyFacts,
    CopyRow,
    Delivery,
    DirectRecord,
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
from ossync.ledger.sql.copies import copy_claim
from ossync.ledger.sqlite.ledger import SqliteLedger

__all__ = [
    "STATES",
    "Aliased",
    "AppUploads",
    "Backfill",
    "Catalog",
    "Checkpoints",
    "Content",
    "Copied",
    "Copier",
    "Copy",
    "CopyAliased",
    "CopyCatalog",
    "CopyFacts",
    "CopyOutcome",
    "CopyQueue",
    "CopyRow",
    "Deferred",
    "Delivery",
    "DirectRecord",
    "Event",
    "Fanout",
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
    "copy_claim",
    "display_location",
    "item_url",
    "location_secrets",
    "now_text",
    "stamp",
]
