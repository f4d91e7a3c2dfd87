"""The command line: `main` is the one error boundary; one module per command family.

`main` parses arguments and hands every failure to `errors` (one line, an `ExitStatus`);
`args` holds the parser and the value checks, `paths` file paths as the shell gives
them, `ledgers` which ledger a command opens, `loading` the config as commands load
it, `terminal` stdout and stderr that never refuse a character. `query` holds the
ledger commands (url/ls/show/status/retry/export) with `urls` and `show`;
`check_config`, `put`, `demo` and `ledger_copy` their commands; `output` the
table/JSON/NDJSON/CSV formats they share.
"""

from ossync.cli.main import main

__all__ = ["main"]
