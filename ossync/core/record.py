"""ossync's own record on every object: enough user metadata to write a lost ledger's rows
again from the bucket alone (`ossync ledger rebuild`).

Each entry is one metadata name under `ossync-` (`x-oss-meta-ossync-sha256`, …):

| name | value |
|---|---|
| `ossync-v` | the record's schema version (`1`) |
| `ossync-sha256`, `ossync-size`, `ossync-crc64` | the original file's SHA-256, bytes and CRC-64 |
| `ossync-sent-sha256`, `ossync-sent-crc64` | the bytes sent, when stripping changed them |
| `ossync-strip` | the folder's `strip_metadata` then, when not `none` |
| `ossync-folder`, `ossync-host` | the watch folder's label, the host that sent it |
| `ossync-path` | the path under the watch folder |
| `ossync-abspath` | the absolute path (only with `object_record: absolute`) |
| `ossync-mtime` | the file's mtime, nanoseconds since the epoch |
| `ossync-taken` | when the photo was taken (EXIF), RFC 3339, when the file says |

Names are bytes (`ossync.core.textforms`): paths and labels are percent-encoded from the
OS form's bytes, so any name round-trips and every value is printable ASCII. A record
that would not fit the store's budget for user metadata loses `ossync-abspath`, then
`ossync-path` (the rebuild then reports the object as one it cannot place).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from ossync.core.objectopts import metadata_size

VERSION = 1
PREFIX = "ossync-"
_SAFE = "/-_.~"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DIGITS = re.compile(r"^[0-9]{1,20}$")
DROPPED_FIRST = ("ossync-abspath", "ossync-path")  # what gives way to a full budget


class RecordError(ValueError):
    """An object carries an ossync record that cannot be read (a newer version, a value
    damaged by hand): it is reported, not guessed at."""


@dataclass(frozen=True)
class ObjectRecord:
    sha256: str
    size: int
    crc64: int
    folder: str
    host: str
    mtime_ns: int
    path: str | None = None  # under the watch folder, `/`-separated, OS form
    abspath: str | None = None  # OS form
    taken: str | None = None
    sent_sha256: str | None = None  # set only when the bytes sent differ
    sent_crc64: int | None = None
    strip: str | None = None

    def metadata(self) -> list[tuple[str, str]]:
        """The record as (name, value) pairs, names without the store's prefix."""
        items = [("ossync-v", str(VERSION)), ("ossync-sha256", self.sha256),
                 ("ossync-size", str(self.size)), ("ossync-crc64", str(self.crc64)),
                 ("ossync-folder", encode(self.folder)), ("ossync-host", encode(self.host)),
                 ("ossync-mtime", str(self.mtime_ns))]
        optional = {"ossync-path": self.path, "ossync-abspath": self.abspath,
                    "ossync-taken": self.taken, "ossync-sent-sha256": self.sent_sha256,
                    "ossync-sent-crc64": None if self.sent_crc64 is None
                    else str(self.sent_crc64), "ossync-strip": self.strip}
        for name, value in optional.items():
            if value is not None:
                items.append((name, encode(value) if "path" in name else value))
        return items

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str]) -> ObjectRecord | None:
        """The record in an object's user metadata (names lower-case, without the
        store's prefix); None when the object has none (a foreign object)."""
        if "ossync-v" not in meta:
            return None
        if meta["ossync-v"] != str(VERSION):
            raise RecordError(f"record version {meta['ossync-v']!r} is not one this "
                              f"ossync reads ({VERSION}): use a newer ossync")
        try:
            return cls(
                sha256=_hex(meta, "ossync-sha256"), size=_int(meta, "ossync-size"),
                crc64=_int(meta, "ossync-crc64"), folder=decode(meta["ossync-folder"]),
                host=decode(meta["ossync-host"]), mtime_ns=_int(meta, "ossync-mtime"),
                path=_optional(meta, "ossync-path"), abspath=_optional(meta, "ossync-abspath"),
                taken=meta.get("ossync-taken"),
                sent_sha256=_hex(meta, "ossync-sent-sha256") if "ossync-sent-sha256" in meta
                else None,
                sent_crc64=_int(meta, "ossync-sent-crc64") if "ossync-sent-crc64" in meta
                else None,
                strip=meta.get("ossync-strip"))
        except KeyError as exc:
            raise RecordError(f"the record lacks {exc.args[0]}") from None


def encode(text: str) -> str:
    """A name's bytes (its OS form) percent-encoded: printable ASCII, `/` kept."""
    return quote(os.fsencode(text), safe=_SAFE)


def decode(text: str) -> str:
    """`encode` undone, back to the OS form (bytes that are not UTF-8 as surrogates)."""
    return os.fsdecode(unquote_to_bytes(text))


def fit(record: Iterable[tuple[str, str]], user: Iterable[tuple[str, str]], limit: int
        ) -> tuple[list[tuple[str, str]], list[str]]:
    """The record and the user's metadata within `limit` bytes: the record's paths give
    way first (named in the second value); ValueError when even that is not enough."""
    items, extra = list(record), list(user)
    dropped: list[str] = []
    for name in DROPPED_FIRST:
        if metadata_size(items + extra) <= limit:
            break
        if any(n == name for n, _ in items):
            items = [(n, v) for n, v in items if n != name]
            dropped.append(name)
    size = metadata_size(items + extra)
    if size > limit:
        raise ValueError(f"user metadata takes {size} bytes with ossync's record; the store "
                         f"takes {limit}: shorten metadata:")
    return items + extra, dropped


def _optional(meta: Mapping[str, str], name: str) -> str | None:
    return decode(meta[name]) if name in meta else None


def _hex(meta: Mapping[str, str], name: str) -> str:
    value = meta[name]
    if not _HEX64.match(value):
        raise RecordError(f"{name} is not a SHA-256: {value[:70]!r}")
    return value


def _int(meta: Mapping[str, str], name: str) -> int:
    value = meta[name]
    if not _DIGITS.match(value):
        raise RecordError(f"{name} is not a whole number: {value[:30]!r}")
    return int(value)
