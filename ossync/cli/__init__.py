"""The command line: `main` is the one error boundary; one module per command family.

`main` parses arguments and maps errors to exit codes; `query` holds the ledger
commands (url/ls/show/status/retry/export), `put` and `demo` their commands, and
`output` the table/JSON/NDJSON/CSV formats they share.
"""

from ossync.cli.main import main

__all__ = ["main"]
