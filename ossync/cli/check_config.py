"""`ossync check-config`: everything that can be known without uploading, said before the
daemon would trip on it — the config's fields, credentials that are already expired,
and a ledger the daemon could not create, write or read. Nothing is created or
changed while checking; each finding is one line and exit status 78.

Weak secrets are findings too: the config's own checks refuse an HTTP token that others
can read or guess; a config file that anyone on the host can read and that holds a
store's secret (or a ledger password) written out is a warning."""

from __future__ import annotations

import argparse
import os
import re
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from ossync.cli.copies import check_replicas
from ossync.cli.errors import ExitStatus
from ossync.cli.loading import load
from ossync.config import Config
from ossync.config.document import read_document
from ossync.config.schema import KEYS
from ossync.core.clock import rfc3339
from ossync.core.credentials import Credentials
from ossync.core.errors import ConfigError
from ossync.core.textforms import printable
from ossync.credentials import CredentialError
from ossync.ledger import Ledger, LedgerError, display_location
from ossync.service.logsetup import register_secrets
from ossync.stores import describe_target

_SQLITE_SIDECARS = "SQLite writes its -wal and -shm files beside the ledger"


def cmd_check_config(args: argparse.Namespace, stdout: TextIO) -> int:
    config = load(args.config)
    keys = _fetch_once(config, args.config)
    replicas = check_replicas(config, str(args.config))  # each destination
    ledger = _ledger_summary(config, args.config)  # a ledger that fails stops here
    stdout.write(f"{printable(str(args.config))}: OK\n  target: {describe_target(config)}\n")
    if keys is not None and config.credential_source is not None:
        until = f", valid until {rfc3339(keys.expires_at)}" if keys.expires_at else ""
        stdout.write(f"  access key id: {_mask(keys.access_key_id)}"
                     f"{' with STS token' if keys.security_token else ''}"
                     f" (from {config.credential_source.describe()}{until})\n")
    stdout.write(f"  ledger: {printable(ledger)}\n")
    stdout.write(f"  host: {config.host}\n")
    for w in config.watch:
        stdout.write(f"  watch {w.label}: {printable(str(w.path))} -> {w.prefix}{w.name}\n")
    for line in replicas:
        stdout.write(f"{printable(line)}\n")
    for hook in config.webhooks:
        only = f" ({', '.join(hook.events)})" if hook.events else ""
        stdout.write(f"  webhook {hook.name}: {printable(hook.url)}{only}, signed with "
                     f"{printable(hook.secret_source)}\n")
    if config.on_upload is not None:
        stdout.write(f"  on_upload: {printable(' '.join(config.on_upload.argv))}\n")
    if config.heartbeat is not None:
        stdout.write(f"  heartbeat: every {config.heartbeat.interval:g}s\n")
    if config.uploads is not None:
        stdout.write(f"  uploads: {_uploads_line(config)}\n")
    for warning in (*config.warnings, *secrets_written_out(args.config), *_token_missing(config)):
        stdout.write(f"  warning: {warning}\n")
    return ExitStatus.OK


def _uploads_line(config: Config) -> str:
    """What apps may ask for and how their uploads are recorded (never the tokens)."""
    up = config.uploads
    assert up is not None
    tokens = (f"{len(up.tokens)} token(s) from {printable(up.token_source or '')}"
              if up.tokens else "no token (loopback only)")
    recorded = (f"OSS calls back {printable(up.callback_url)}" if up.callback_url
                else "apps confirm (POST /v1/uploads/ID/done)")
    return (f"POST /v1/uploads with {tokens}; up to {up.max_files} file(s) of "
            f"{up.max_file_size} bytes a request, forms for {up.expires:g}s, as folder "
            f"{up.folder}; {recorded}, checked every {up.check_interval:g}s")


def _token_missing(config: Config) -> list[str]:
    """The listener will answer 401 on its guarded routes: a token is required, none set."""
    http = config.http
    if http is None or not http.locked:
        return []
    why = (f"this host has other login users ({', '.join(http.other_users[:5])})"
           if http.require_token == "auto" else "http.require_token is always")
    return [f"http: {why}, so /metrics, /v1/files and the status page need a token, and "
            "none is set: they will answer 401 until http.token_file is set (or "
            "http.require_token: never)"]


_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def _written_out(value: object) -> bool:
    """A value that is more than `${VAR}` references: the secret itself."""
    return isinstance(value, str) and bool(_VARIABLE.sub("", value).strip())


def secrets_written_out(path: Path) -> list[str]:
    """One warning when a config anyone on the host can read holds a secret as such."""
    try:
        if not os.stat(path).st_mode & stat.S_IROTH:
            return []
        raw = read_document(path)
    except (OSError, ConfigError):
        return []
    if not isinstance(raw, dict):
        return []
    found = [key.path for key in KEYS if key.secret and isinstance(raw.get(key.section), dict)
             and _written_out(raw[key.section].get(key.name))]
    ledger = raw.get("ledger")
    if isinstance(ledger, str) and "://" in ledger and _written_out(
            urlsplit(_VARIABLE.sub("", ledger)).password or ""):
        found.append("ledger (its password)")
    if not found:
        return []
    shown = printable(str(path))
    return [f"{shown} can be read by anyone on this host and holds {', '.join(found)} "
            f"written out: chmod 600 {shown}, or write ${{VAR}} there and give the secret "
            "in the environment or as a systemd credential"]


def _fetch_once(config: Config, path: Path) -> Credentials | None:
    """The keys as the source hands them out now (a rotating source is asked once);
    keys that have already expired are a finding, not a summary."""
    source = config.credential_source
    if source is None:
        return None
    try:
        keys = source.fetch()
    except CredentialError as exc:
        raise ConfigError([f"{config.target_name} credentials: {exc}"], str(path)) from None
    register_secrets(keys.secrets())
    if keys.expires_at is not None and keys.expires_at <= datetime.now(timezone.utc):
        raise ConfigError([f"{config.target_name} credentials from {source.describe()} "
                           f"expired at {rfc3339(keys.expires_at)}; have it hand out current "
                           "keys (and check this machine's clock)"], str(path))
    return keys


def _ledger_summary(config: Config, path: Path) -> str:
    """Where the ledger is and that it will work: a SQLite file is checked on disk and
    opened read-only if it exists; a shared ledger is connected to. What fails is one
    line in the config's terms."""
    location = config.ledger
    if isinstance(location, Path):
        problem = sqlite_problem(location)
        if problem is not None:
            raise ConfigError([f"ledger: {problem}"], str(path))
        if not location.exists():
            return f"{location} (the daemon creates it)"
    try:
        with Ledger.open(location, readonly=True, host=config.host) as ledger:
            return f"{ledger.location} (connected)" if isinstance(location, str) else str(
                location)
    except LedgerError as exc:
        if "no ossync tables yet" in str(exc):  # an empty file or database: a new ledger
            if isinstance(location, str):
                return f"{display_location(location)} (connected; the daemon creates the tables)"
            return f"{location} (the daemon creates the tables)"
        raise ConfigError([f"ledger: {exc}"], str(path)) from None


def sqlite_problem(path: Path) -> str | None:
    """Why the daemon could not create or write a SQLite ledger at `path` (None: it can),
    found without creating anything."""
    if os.path.lexists(path):
        if path.is_dir():
            return f"{path} is a folder; name a file in it, e.g. {path / 'ledger.db'}"
        if not path.is_file():
            return f"{path} is not a regular file; choose another ledger:"
        if not os.access(path, os.R_OK | os.W_OK):
            return (f"{path} is read-only for this user; give it write access (chown or "
                    "chmod), or choose another ledger:")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return (f"the folder {path.parent} is read-only for this user, and "
                    f"{_SQLITE_SIDECARS}; give it write access, or choose another ledger:")
        return None
    folder = path.parent
    while not os.path.lexists(folder):
        folder = folder.parent
    if not folder.is_dir():
        return f"cannot create {path}: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return (f"cannot create {path}: {folder} is read-only for this user; create the "
                "folder with write access for this user, or choose another ledger:")
    return None


def _mask(key_id: str) -> str:
    return key_id[:4] + "…" if len(key_id) > 8 else "…"
