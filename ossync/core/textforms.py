"""The three forms of a file name: as the OS gives it, as the ledger stores it, as a person
reads it — each reversible, so nothing is lost between them.

Linux file names are bytes. Python hands them over as `str` with each byte that is not
valid UTF-8 as a lone surrogate (U+DC80–U+DCFF, `os.fsdecode`); such a `str` cannot be
written as UTF-8 (SQLite, PostgreSQL, JSON, a terminal all refuse it). So:

- the **OS form** is what `os` functions take and return: used in memory everywhere;
- the **ledger form** (`ledger_text`) is valid UTF-8: each byte that is not UTF-8 is
  written `\\xHH` and, in such a name (or one holding a backslash), every backslash is
  doubled. A name that has neither is stored exactly as it is. It is what the ledger,
  JSON, CSV and the HTTP API carry;
- the **printable form** (`printable`) also escapes control characters (`\\n`, `\\r`,
  `\\t`, `\\x1b`, …), the C1 controls and the Unicode marks that reorder or split lines
  (`\\u202e`, `\\u2028`): a name can never start a new log line, move a terminal's
  cursor or reverse the text around it. It is what logs and tables show.

Both escaped forms are one escape language, so `os_path` reads either back: what a log
line shows can be pasted into `ossync url`.
"""

from __future__ import annotations

import re

_SURROGATE = "\udc80-\udcff"
_ODD_SURROGATE = "\ud800-\udc7f\udd00-\udfff"  # not from os.fsdecode; escaped all the same
_CONTROL = "\x00-\x1f\x7f\x80-\x9f"
_MARKS = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_LEDGER_ESCAPE = re.compile(f"[{_SURROGATE}{_ODD_SURROGATE}\\\\]")
_PRINT_ESCAPE = re.compile(f"[{_SURROGATE}{_ODD_SURROGATE}{_CONTROL}{_MARKS}\\\\]")
_NEEDS_LEDGER = re.compile(f"[{_SURROGATE}{_ODD_SURROGATE}]")
_NEEDS_PRINT = re.compile(f"[{_SURROGATE}{_ODD_SURROGATE}{_CONTROL}{_MARKS}]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPE = re.compile(r"\\(\\|n|r|t|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})")


def _escape_one(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the byte the OS gave
    if code < 0x80:
        return f"\\x{code:02x}"  # an ASCII control: the same byte either way
    return f"\\u{code:04x}"


def _escape(text: str, needs: re.Pattern[str], escape: re.Pattern[str]) -> str:
    if "\\" not in text and not needs.search(text):
        return text
    return escape.sub(_escape_one, text)


def ledger_text(path: str) -> str:
    """The OS form as valid UTF-8 text, one to one (see the module docstring)."""
    return _escape(path, _NEEDS_LEDGER, _LEDGER_ESCAPE)


def printable(text: str) -> str:
    """`text` safe for one log line or one table cell; reversible by `os_path`."""
    return _escape(text, _NEEDS_PRINT, _PRINT_ESCAPE)


def _unescape_one(match: re.Match[str]) -> str:
    token = match.group(1)
    if token in ("\\", "n", "r", "t"):
        return {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}[token]
    code = int(token[1:], 16)
    if token[0] == "x" and code >= 0x80:
        return chr(0xDC00 + code)  # a byte that is not UTF-8, as os.fsdecode writes it
    return chr(code)


def os_path(text: str) -> str:
    """The OS form of a ledger or printable form (text without a backslash is as it is)."""
    if "\\" not in text:
        return text
    return _UNESCAPE.sub(_unescape_one, text)


def is_plain(text: str) -> bool:
    """True when all three forms are the same text."""
    return printable(text) == text
