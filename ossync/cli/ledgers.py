"""Which ledger a command opens, and what it says when it cannot.

`--ledger`, else `$OSSYNC_LEDGER`, else the config's `ledger:`. A location that no
backend serves, or a URL that cannot be one (a port past 65535), is a usage error
found before any connection is tried; its password is masked from then on.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import urlsplit

from ossync.cli.errors import UsageError, shown
from ossync.cli.loading import readable_config
from ossync.config import LedgerSettings, ledger_from_config
from ossync.core.errors import ConfigError
from ossync.core.host import default_host
from ossync.ledger import Ledger, LedgerError, display_location, location_secrets
from ossync.service.logsetup import register_secrets

URL_SHAPE = "postgresql://USER@HOST:5432/DATABASE"


def given_location(text: str, flag: str) -> str:
    """A ledger location typed by a person: a file path or a postgresql:// URL."""
    register_secrets(location_secrets(text))
    if "://" not in text or text.startswith("sqlite://"):
        return text
    where = f"{flag} {shown(display_location(text))}"
    if not text.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"{where}: not a ledger location; give a file path or a URL like "
                         f"{URL_SHAPE}")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # an IPv6 address whose bracket is not closed
        raise UsageError(f"{where}: {exc} (a URL looks like {URL_SHAPE})") from None
    try:
        parts.port  # noqa: B018 - reading it is the check
    except ValueError:
        raise UsageError(f"{where}: the port is not a number from 0 to 65535 (a URL looks "
                         f"like {URL_SHAPE})") from None
    return text


def settings(args: argparse.Namespace) -> LedgerSettings:
    """--ledger, else $OSSYNC_LEDGER, else the config's; --host, else the config's host:."""
    host = args.host
    if args.ledger == "":
        raise UsageError("--ledger: empty; give a ledger file or a postgresql:// URL (or "
                         "leave --ledger out to use the config's)")
    if args.ledger:
        given = given_location(args.ledger, "--ledger")
    elif os.environ.get("OSSYNC_LEDGER"):
        given = given_location(os.environ["OSSYNC_LEDGER"], "$OSSYNC_LEDGER")
    else:
        with readable_config(args.config):
            found = ledger_from_config(args.config)
        register_secrets(location_secrets(found.location))
        return LedgerSettings(found.location, host or found.host)
    if host:
        return LedgerSettings(given, host)
    try:  # the config, when there is a readable one, still names this host
        with readable_config(args.config):
            return LedgerSettings(given, ledger_from_config(args.config).host)
    except ConfigError:
        return LedgerSettings(given, default_host())


def open_at(location: Path | str, *, readonly: bool, host: str | None = None) -> Ledger:
    """`Ledger.open`, with what the system refuses about the place (a name too long, a
    folder it may not enter) said as the ledger's error."""
    try:
        return Ledger.open(location, readonly=readonly, host=host)
    except OSError as exc:
        raise LedgerError(f"ledger {shown(display_location(location))}: cannot open it: "
                          f"{exc.strerror or exc}") from None


def open_ledger(args: argparse.Namespace, *, write: bool = False) -> Ledger:
    """Read-only unless `write`; a ledger that is not there is never created here."""
    found = settings(args)
    if write:
        open_at(found.location, readonly=True, host=found.host).close()  # "missing"
    return open_at(found.location, readonly=not write, host=found.host)
