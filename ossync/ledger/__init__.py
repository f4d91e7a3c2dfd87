"""Stage 3, the ledger: the durable work queue and the record of every upload."""

from ossync.ledger.sqlite.ledger import (
    FileRow,
    Ledger,
    LedgerCorrupt,
    LedgerError,
    LedgerMissing,
    Upload,
    now_text,
)

__all__ = ["FileRow", "Ledger", "LedgerCorrupt", "LedgerError", "LedgerMissing", "Upload",
           "now_text"]
