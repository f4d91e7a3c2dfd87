"""The SQLite backend: `ledger` (open, migrate, lock), `queue` and `reads` (statements),
`base` (the shared connection), `migrations` (the schema)."""
