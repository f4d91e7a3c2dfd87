"""Stage 4, upload: one queue row through hash → dedupe → key → send → verify → record.

`worker` runs a row to one of its ledger outcomes, `prepare` reads the facts of a
file in one pass (SHA-256, CRC-64, media type, EXIF date). It talks to a store
only through the `ossync.targets.Target` contract and to the ledger only
through `ossync.ledger`.
"""
