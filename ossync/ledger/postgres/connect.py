"""A `postgresql://` URL → a psycopg connection, and its errors → one clear line each.

The password comes from the URL, `PGPASSWORD`, `~/.pgpass` (both read by libpq
itself) or `$CREDENTIALS_DIRECTORY/pgpassword` (systemd `LoadCredential=`). It
never appears in a message: every URL shown goes through `display_url`.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ossync.ledger.errors import LedgerError, LedgerMissing, LedgerUnavailable

CREDENTIAL_FILE = "pgpassword"
CONNECT_TIMEOUT = 10  # seconds; a host that does not answer fails fast, then back-off
_USERINFO = re.compile(r"^([a-z]+://)([^:@/]*):([^@/]*)@")  # scheme, user, password
EXTRA_HINT = "install the postgres extra: pip install 'ossync[postgres]'"


def display_url(url: str) -> str:
    """The URL without its password (`postgresql://user@host/db`), however many hosts."""
    return _USERINFO.sub(r"\1\2@", url, count=1)


def url_password(url: str) -> str | None:
    found = _USERINFO.match(url)
    return unquote(found.group(3)) if found else None


def connect_args(url: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for `psycopg.connect`: the URL, plus the systemd credential
    when neither the URL nor PGPASSWORD gives a password."""
    env = dict(os.environ if env is None else env)
    args: dict[str, Any] = {"conninfo": url, "connect_timeout": CONNECT_TIMEOUT,
                            "application_name": "ossync"}
    if url_password(url) is None and not env.get("PGPASSWORD") and env.get(
            "CREDENTIALS_DIRECTORY"):
        secret = Path(env["CREDENTIALS_DIRECTORY"], CREDENTIAL_FILE)
        with contextlib.suppress(OSError):
            args["password"] = secret.read_text(encoding="utf-8").strip()
    return args


def psycopg_module() -> Any:
    try:
        import psycopg
    except ImportError:
        raise LedgerError(f"the ledger is a PostgreSQL URL, but psycopg is not installed: "
                          f"{EXTRA_HINT}") from None
    return psycopg


def explain(url: str, exc: Exception) -> LedgerError:
    """A driver error as the one line a person can act on (the password never shown)."""
    shown = display_url(url)
    text = " ".join(str(exc).split())
    password = url_password(url)
    if password:
        text = text.replace(password, "***")
    lowered = text.lower()
    if any(sign in lowered for sign in ("password authentication failed", "no pg_hba.conf",
                                        "no password supplied")) or (
            "role" in lowered and "does not exist" in lowered):
        return LedgerError(f"ledger {shown}: the server refused the login ({text}); check the "
                           "user and the password (URL, PGPASSWORD, ~/.pgpass or the "
                           "pgpassword credential) and pg_hba.conf")
    if "does not exist" in lowered and "database" in lowered:
        return LedgerMissing(f"ledger {shown}: {text}; create it first (createdb) and grant "
                             "the ossync role CREATE on it")
    if "read-only transaction" in lowered:
        return LedgerError(f"ledger {shown} is open read-only: {text}")
    if "translate host name" in lowered or "name or service not known" in lowered:
        return LedgerUnavailable(f"ledger {shown}: unknown host ({text}); check the host name "
                                 "in the URL")
    if "connection refused" in lowered or "timeout" in lowered or "could not connect" in (
            lowered) or "server closed" in lowered or "terminating connection" in lowered:
        return LedgerUnavailable(f"ledger {shown}: cannot reach the server ({text}); check the "
                                 "host and port, and that PostgreSQL is running and listens "
                                 "there")
    return LedgerUnavailable(f"ledger {shown}: {text}")


def display_location(location: object) -> str:
    """Any ledger location as it may be shown: a path as it is, a URL without password."""
    return display_url(location) if isinstance(location, str) else str(location)


def location_secrets(location: object) -> tuple[str, ...]:
    """What must never be printed of a location: the password in a URL."""
    password = url_password(location) if isinstance(location, str) else None
    return (password,) if password else ()
