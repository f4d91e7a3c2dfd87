"""This daemon's name in a shared ledger and in `{host}` key templates."""

from __future__ import annotations

import socket


def default_host() -> str:
    """The machine's host name (what `host:` defaults to)."""
    return socket.gethostname() or "localhost"
