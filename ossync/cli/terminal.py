"""The process's own stdout and stderr, made so that writing can never be the error.

Whatever the locale (LANG=C, an ASCII `PYTHONIOENCODING`), a character the stream
cannot encode is written as a backslash escape instead of raising UnicodeEncodeError
(in a JSON string that escape even reads back as the same character). What we write
is already valid text (`ledger_text`, `printable`); this is the net under it. And a
reader that goes away (`ossync ls | head`) ends the output quietly.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import TextIO


def never_refuses(stream: TextIO) -> TextIO:
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, io.UnsupportedOperation):
            reconfigure(errors="backslashreplace")
    return stream


def reader_gone(stream: TextIO) -> None:
    """After a broken pipe: point the process's stdout at /dev/null, so that Python's
    final flush does not print the same error again on the way out."""
    if stream is not sys.stdout:
        return
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
