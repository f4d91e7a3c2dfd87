"""A streaming multipart/form-data parser for PostObject bodies.

The `cgi` module is gone from Python 3.13 and `email` would hold the whole
body in memory, so this reads the socket in chunks: small fields are kept (with
OSS's documented size limits), the `file` part goes chunk by chunk to a sink
chosen by the caller once every field before it is known, and a `file` that is
not the last part is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Protocol

from ossync.localoss.responses import invalid_argument, malformed_post

CHUNK = 64 * 1024
MAX_PART_HEADER = 16 * 1024
# OSS error pages 0006-00000110/111/112: field name <= 8 KB, one value <= 2 MB,
# all values before `file` <= 8 MB.
MAX_NAME = 8 * 1024
MAX_VALUE = 2 * 1024 * 1024
MAX_FIELDS_TOTAL = 8 * 1024 * 1024


class Source(Protocol):
    """Where a body comes from: a socket file or anything with `read(n)`."""

    def read(self, n: int = -1, /) -> bytes: ...


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass
class Form:
    """The fields before `file` (names as sent, in order) and the file part's headers."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    filename: str | None = None
    file_content_type: str | None = None
    has_file: bool = False


FileOpener = Callable[[Form], Sink]


def boundary_of(content_type: str) -> str:
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data":
        raise malformed_post("Content-Type must be multipart/form-data.")
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 200:
        raise malformed_post("The multipart boundary is missing.")
    return boundary


class _Reader:
    """Buffered reads from the body, never past Content-Length."""

    def __init__(self, stream: Source, length: int) -> None:
        self.stream = stream
        self.left = length
        self.buf = b""

    def fill(self) -> bool:
        if self.left <= 0:
            return False
        data = self.stream.read(min(CHUNK, self.left))
        if not data:
            raise malformed_post("The body ended early.")
        self.left -= len(data)
        self.buf += data
        return True

    def read_until(self, marker: bytes, limit: int) -> bytes:
        """Bytes up to `marker` (consumed, not returned), at most `limit` of them."""
        while (i := self.buf.find(marker)) < 0:
            if len(self.buf) > limit + len(marker) or not self.fill():
                raise malformed_post()
        out, self.buf = self.buf[:i], self.buf[i + len(marker):]
        if len(out) > limit:
            raise malformed_post()
        return out

    def copy_until(self, marker: bytes, sink: Sink, limit: int | None) -> int:
        """Stream bytes up to `marker` into `sink`; return how many there were."""
        total = 0
        while (i := self.buf.find(marker)) < 0:
            keep = len(marker) - 1
            if len(self.buf) > keep:
                total += self._emit(self.buf[:-keep], sink, total, limit)
                self.buf = self.buf[-keep:]
            if not self.fill():
                raise malformed_post("The closing boundary is missing.")
        total += self._emit(self.buf[:i], sink, total, limit)
        self.buf = self.buf[i + len(marker):]
        return total

    @staticmethod
    def _emit(data: bytes, sink: Sink, done: int, limit: int | None) -> int:
        if limit is not None and done + len(data) > limit:
            raise invalid_argument("A form field value is larger than 2 MB.")
        if data:
            sink.write(data)
        return len(data)

    def take(self, n: int) -> bytes:
        while len(self.buf) < n and self.fill():
            pass
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _part_headers(raw: bytes) -> tuple[str, str | None, str | None]:
    """(field name, filename, content type) from one part's header block."""
    msg = Message()
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep:
            raise malformed_post("A part header has no colon.")
        msg[name.strip()] = value.strip()
    if msg.get_content_disposition() != "form-data":
        raise malformed_post("Every part needs Content-Disposition: form-data.")
    fname = msg.get_param("name", header="content-disposition")
    if not isinstance(fname, str) or not fname:
        raise malformed_post("A part has no field name.")
    if len(fname.encode()) > MAX_NAME:
        raise invalid_argument("A form field name is longer than 8 KB.")
    ctype = msg.get("content-type")
    return fname, msg.get_filename(), ctype


class _Buffer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)


def parse_form(stream: Source, length: int, boundary: str, open_file: FileOpener) -> Form:
    """Read the whole form; `open_file(form)` is called once, when `file` starts."""
    reader = _Reader(stream, length)
    delim = b"--" + boundary.encode("latin-1")
    reader.read_until(delim, MAX_PART_HEADER)  # skip any preamble
    form, total = Form(), 0
    while True:
        after = reader.take(2)
        if after == b"--":
            break
        if after != b"\r\n":
            raise malformed_post()
        if form.has_file:
            raise malformed_post("The file field must be the last field.")
        name, filename, ctype = _part_headers(reader.read_until(b"\r\n\r\n", MAX_PART_HEADER))
        if name.lower() == "file":
            form.has_file, form.filename, form.file_content_type = True, filename, ctype
            reader.copy_until(b"\r\n" + delim, open_file(form), None)
            continue
        buf = _Buffer()
        total += reader.copy_until(b"\r\n" + delim, buf, MAX_VALUE)
        if total > MAX_FIELDS_TOTAL:
            raise invalid_argument("The form fields before file are larger than 8 MB.")
        try:
            form.fields.append((name, b"".join(buf.parts).decode("utf-8")))
        except UnicodeDecodeError:
            raise invalid_argument(f"Form field {name} is not valid UTF-8.") from None
    if not form.has_file:
        raise malformed_post("The file field is missing.")
    return form
