"""Object keys from per-folder templates: `prefix` + `name`, e.g. `camera1/{date:%Y/%m/%d}/`
+ `{stem}-{sha8}{ext}`.

A key always carries a content part unless the user removes it, so two different
files never map to the same key (cameras restart their DSC_0001 counters).
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

MAX_KEY_BYTES = 1023
FIELDS = frozenset(
    {"date", "stem", "ext", "sha256", "sha8", "relpath", "reldir", "host", "folder"}
)
DEFAULT_PREFIX = "images/{date:%Y/%m/%d}/"
DEFAULT_NAME = "{stem}-{sha8}{ext}"
# Keys of uploads apps send straight to the store (`uploads:`): their bytes are not known
# when the key is made, so the content part is `{id}`, the upload's unguessable id, and
# `{stem}` is the client's file name made safe (`{ext}` goes with the declared type).
APP_FIELDS = frozenset({"date", "stem", "ext", "id", "host", "folder"})
APP_PREFIX = "app/{date:%Y/%m/%d}/"
APP_NAME = "{stem}-{id}{ext}"
MAX_APP_STEM = 100  # characters of a client's name kept in a key
# Never in a key: control characters, bytes of a file name that are not UTF-8 (lone
# surrogates, see ossync.core.textforms) and the marks that reorder or split text in a
# browser's address bar. Each becomes `_`.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff\ud800-\udc7f\udd00-\udfff"
                      "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class KeyInputs:
    """Everything a template may use, for one file."""

    relpath: str  # path under the watch folder, `/`-separated, with the file name
    sha256: str
    ext: str  # lower-case real extension with its dot, e.g. ".jpg"
    when: datetime
    host: str
    folder: str = ""


def template_problem(template: str, fields: Collection[str] = FIELDS) -> str | None:
    """Why a template cannot be used (an unknown field, a format on a field other than
    `{date}`), or None when it can. `fields`: the names it may use — key templates know
    `FIELDS`, an app upload's `APP_FIELDS`, object options theirs."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"bad template {template!r}: {exc}"
    for _text, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in fields:
            return f"unknown field {{{name}}} (known: {', '.join(sorted(fields))})"
        if conversion:
            return f"conversion !{conversion} is not supported in {{{name}}}"
        if spec and name != "date":
            return f"only {{date}} takes a format, not {{{name}:{spec}}}"
    return None


def _clean_segments(path: str) -> list[str]:
    """Path segments safe for a key: no empty, `.` or `..` segments, no control chars."""
    segments = (_CONTROL.sub("_", s) for s in path.replace("\\", "/").split("/"))
    return [s for s in segments if s not in ("", ".", "..")]


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode()[: max(max_bytes, 0)].decode(errors="ignore")


def render_key(prefix: str, name: str, inputs: KeyInputs) -> str:
    """The object key for one file; raises ValueError if no valid key can be made.

    An over-long key is shortened in its `{stem}` part, which keeps the
    content part and the extension.
    """
    segments = _clean_segments(inputs.relpath)
    filename = segments[-1] if segments else "file"
    stem = filename.rsplit(".", 1)[0] if "." in filename[1:] else filename
    values: dict[str, object] = {
        "date": inputs.when,
        "ext": inputs.ext,
        "sha256": inputs.sha256,
        "sha8": inputs.sha256[:8],
        "relpath": "/".join(segments),
        "reldir": "".join(s + "/" for s in segments[:-1]),
        "host": inputs.host,
        "folder": inputs.folder,
    }
    key = _format(prefix + name, values, stem)
    excess = len(key.encode()) - MAX_KEY_BYTES
    if excess > 0 and "{stem}" in name:
        key = _format(prefix + name, values, _truncate_utf8(stem, len(stem.encode()) - excess))
    return check_key(key)


@dataclass(frozen=True)
class AppKeyInputs:
    """What an app upload's key may use: the client's name (any text), the extension of
    its declared type, the upload's id, and when it was asked for."""

    name: str
    ext: str
    id: str
    when: datetime
    host: str
    folder: str


def app_stem(name: str) -> str:
    """The client's file name as a key's `{stem}`: its last path segment (`../../x` is
    `x`), control characters and reordering marks as `_`, without its extension, at most
    `MAX_APP_STEM` characters; `file` when nothing is left."""
    segments = _clean_segments(name)
    filename = segments[-1] if segments else "file"
    stem = filename.rsplit(".", 1)[0] if "." in filename[1:] else filename
    return stem[:MAX_APP_STEM] or "file"


def render_app_key(prefix: str, name: str, inputs: AppKeyInputs) -> str:
    """The object key of one app upload; ValueError if no valid key can be made (an
    over-long key loses the end of its `{stem}`, as `render_key`)."""
    stem = app_stem(inputs.name)
    values: dict[str, object] = {"date": inputs.when, "ext": inputs.ext, "id": inputs.id,
                                 "host": inputs.host, "folder": inputs.folder}
    key = _format(prefix + name, values, stem)
    excess = len(key.encode()) - MAX_KEY_BYTES
    if excess > 0 and "{stem}" in name:
        key = _format(prefix + name, values, _truncate_utf8(stem, len(stem.encode()) - excess))
    return check_key(key)


def _format(template: str, values: dict[str, object], stem: str) -> str:
    return _CONTROL.sub("_", template.format(stem=stem, **values))


def check_key(key: str) -> str:
    """Return `key` if OSS accepts it and it cannot be read as a path escape."""
    size = len(key.encode())
    if not 1 <= size <= MAX_KEY_BYTES:
        raise ValueError(f"object key is {size} bytes; OSS allows 1 to {MAX_KEY_BYTES}")
    if key.startswith(("/", "\\")):
        raise ValueError(f"object key {key!r} starts with a slash")
    if any(s in (".", "..") for s in key.split("/")):
        raise ValueError(f"object key {key!r} has a '.' or '..' segment")
    if _CONTROL.search(key):
        raise ValueError(f"object key {key!r} has a control character")
    return key
