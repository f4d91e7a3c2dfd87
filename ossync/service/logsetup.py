"""Logging: human lines on a terminal, priority-prefixed lines for journald, JSON on request;
and a filter that masks any known secret, whatever code logged it."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any, TextIO

from ossync.core.textforms import ledger_text, printable

# The secrets to mask, longest first; a tuple swapped whole, so that a log line formatted
# while a refresher registers rotated keys never sees a half-updated collection.
_SECRETS: tuple[str, ...] = ()
_SECRETS_LOCK = threading.Lock()
_BY_AGE: list[str] = []  # the same, oldest first (written under the lock)
MAX_SECRETS = 512  # keys rotating every hour for weeks: the newest this many are masked
_error_prefix = ""  # "<3>" while logging goes to the journal (set by setup_logging)
_SYSLOG = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
           logging.CRITICAL: 2}


def register_secrets(values: Iterable[str | None]) -> None:
    """Strings that must never reach a log line (keys, tokens); called again with the
    new ones whenever credentials rotate."""
    global _SECRETS
    with _SECRETS_LOCK:
        for value in values:
            if value and len(value) >= 4:
                if value in _BY_AGE:
                    _BY_AGE.remove(value)
                _BY_AGE.append(value)
        del _BY_AGE[:-MAX_SECRETS]
        _SECRETS = tuple(sorted(_BY_AGE, key=len, reverse=True))


def error_text(text: str) -> str:
    """A message printed to stderr outside logging: at error priority in the journal."""
    return "".join(_error_prefix + line for line in text.splitlines(keepends=True))


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFormatter(logging.Formatter):
    """Secrets masked, and one record one line: the message is shown in its printable
    form (ossync.core.textforms), so a file name with a newline or an escape sequence can
    neither forge a log line nor drive a terminal; a traceback's lines are indented, so
    none of them reads as a record of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        text = super().formatException(ei)
        return "\n".join("    " + printable(line) for line in text.splitlines())

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JournalFormatter(RedactingFormatter):
    """`<6>message`: journald reads the priority, and adds its own time stamp.

    journald splits a stream at newlines, so every line of a multi-line record (a
    traceback) carries the prefix and keeps the record's priority."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_SYSLOG.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def connected_to_journal(stream: TextIO) -> bool:
    """True when `stream` is the journal stream systemd gave us (`JOURNAL_STREAM=dev:ino`).

    The variable is inherited by children whose stderr may go elsewhere, so it
    only counts when it names this very stream (sd_journal_stream_fd(3))."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # JSON escapes control characters itself; bytes of a name that are not UTF-8 are
        # written in the ledger form, so every line is valid UTF-8 JSON.
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": ledger_text(record.getMessage())}
        if record.exc_info:
            entry["exception"] = ledger_text(self.formatException(record.exc_info))
        return redact(json.dumps(entry, ensure_ascii=False))


def setup_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    global _error_prefix
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "journal" if connected_to_journal(stream) else "human"
    _error_prefix = "<3>" if fmt == "journal" else ""
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "journal":
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(message)s",
                                                "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("watchdog").setLevel(logging.WARNING)
