"""Stage 1, config: YAML → defaults → `${VAR}` → checks → frozen dataclasses.

`settings` holds the dataclasses and the pipeline, `checks` the field checks,
`stores` the `oss:`/`s3:`/`local:` sections and `credential_sources` where keys
come from. Nothing here talks to a store or the ledger.
"""

from ossync.config.http import HttpConfig
from ossync.config.settings import (
    Config,
    LedgerSettings,
    WatchConfig,
    ledger_from_config,
    load_config,
    parse_config,
    url_mode_from_config,
)

__all__ = ["Config", "HttpConfig", "LedgerSettings", "WatchConfig", "ledger_from_config",
           "load_config", "parse_config", "url_mode_from_config"]
