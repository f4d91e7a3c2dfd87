"""Stage 1, config: YAML → defaults → `${VAR}` → checks → frozen dataclasses.

`schema` lists every key (`keys_general`, `keys_events`, `keys_stores`, `keys_uploads`:
default, bounds, reload class, description), `document` reads a file safely, `problems`
reads keys through the schema, `checks` converts values, `settings` holds the
dataclasses and the pipeline, `watch`, `stores`, `http`, `events` (webhooks, on_upload,
the heartbeat), `uploads` (apps' direct uploads) and `transfer` the sections,
`replicas` the destinations besides the primary,
`credential_sources` where keys come from, `offline` the checks of key templates,
`reload` what a SIGHUP changes and `reference` writes config.sample.yaml and
docs/configuration.md. Nothing here talks to a store or the ledger.
"""

from ossync.config.events import CommandHookConfig, HeartbeatConfig, WebhookConfig
from ossync.config.http import HttpConfig
from ossync.config.reload import ReloadPlan, applied, reload_plan
from ossync.config.settings import (
    Config,
    LedgerSettings,
    ReplicaConfig,
    WatchConfig,
    ledger_from_config,
    load_config,
    parse_config,
    url_mode_from_config,
)
from ossync.config.uploads import UploadsConfig

__all__ = ["CommandHookConfig", "Config", "HeartbeatConfig", "HttpConfig", "LedgerSettings",
           "ReloadPlan", "ReplicaConfig", "UploadsConfig", "WatchConfig", "WebhookConfig",
           "applied",
           "ledger_from_config", "load_config", "parse_config", "reload_plan",
           "url_mode_from_config"]
