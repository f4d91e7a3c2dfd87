"""What an object carries besides its bytes: storage class, ACL, encryption, headers, tags
and user metadata, as one value that a target turns into its store's fields.

The values are rendered for one file (templates filled, names encoded) before a target
sees them, so targets only spell them: OSS form fields and `x-oss-*` headers, S3 form
fields and `x-amz-*` headers, or the local folder's extended attributes. What each
store takes (`STORAGE_CLASSES`, `ACLS`, `ENCRYPTIONS`) and its limits (`META_LIMIT`,
`MAX_TAGS`) live here, on the floor, for the config's checks and the targets alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

import ossync.core.keys as keys
from ossync.core.keys import FIELDS

# The store's own spelling of each value; config values match case-blind.
STORAGE_CLASSES: Mapping[str, tuple[str, ...]] = {
    "oss": ("Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"),
    "s3": ("STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR",
           "GLACIER", "DEEP_ARCHIVE", "REDUCED_REDUNDANCY"),
}
ACLS: Mapping[str, tuple[str, ...]] = {
    "oss": ("default", "private", "public-read", "public-read-write"),
    "s3": ("private", "public-read", "public-read-write", "authenticated-read",
           "bucket-owner-read", "bucket-owner-full-control"),
}
# `KMS` is spelled `aws:kms` on the wire by S3; SM4 is OSS's alone.
ENCRYPTIONS: Mapping[str, tuple[str, ...]] = {"oss": ("AES256", "KMS", "SM4"),
                                              "s3": ("AES256", "KMS")}
# User metadata: OSS takes 8 KB of x-oss-meta-* in all, S3 2 KB (names and values).
META_LIMIT: Mapping[str, int] = {"oss": 8 * 1024, "s3": 2 * 1024, "local": 8 * 1024}
MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
TEMPLATE_FIELDS = FIELDS | {"name"}
META_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
_TAG_CHAR = re.compile(r"[^\w +\-=._:/@]")  # what OSS and S3 both take in a tag
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")


@dataclass(frozen=True)
class ObjectOptions:
    """One file's options, rendered: nothing left to fill in, every value header-safe.

    `storage_class` and `acl` are in the store's spelling; `encryption` is AES256, KMS
    or SM4 (each store spells it); `metadata` names are lower-case without the store's
    prefix, values printable ASCII (`header_value`); `tags` are plain text, encoded
    by whoever sends them."""

    storage_class: str | None = None
    acl: str | None = None
    encryption: str | None = None
    kms_key_id: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()

    def tagging(self) -> str:
        """`k=v&k2=v2`, each part percent-encoded: the `x-oss-tagging` / `x-amz-tagging`
        header."""
        return tagging_query(self.tags)

    @property
    def meta_size(self) -> int:
        return metadata_size(self.metadata)


def store_spelling(choices: Iterable[str], value: str) -> str | None:
    """`value` as the store spells it (matched case-blind), or None when it is not one."""
    return next((c for c in choices if c.lower() == value.strip().lower()), None)


def tagging_query(tags: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in tags)


def parse_tagging_query(text: str) -> dict[str, str]:
    pairs = (item.partition("=") for item in text.split("&") if item)
    return {unquote(k): unquote(v) for k, _, v in pairs}


def tagging_xml(tags: Iterable[tuple[str, str]]) -> bytes:
    """The `<Tagging>` document of PutObjectTagging and of S3's POST `tagging` field."""
    body = "".join(f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>"
                   for k, v in tags)
    return f"<Tagging><TagSet>{body}</TagSet></Tagging>".encode()


def metadata_size(metadata: Iterable[tuple[str, str]]) -> int:
    """Bytes of user metadata as the stores count them: names and values."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in metadata)


def header_value(text: str) -> str:
    """A metadata value as a header carries it: printable ASCII without `%` as it is,
    anything else percent-encoded (UTF-8; a name's bytes that are not UTF-8 as they
    are), so a header never holds what HTTP cannot."""
    if _PRINTABLE_ASCII.match(text) and "%" not in text:
        return text
    return quote(os.fsencode(text), safe=" !#$&'()*+,/:;=?@[]^`{|}~")


def tag_text(text: str, limit: int) -> str:
    """A rendered tag key or value as both stores take it: characters outside letters,
    digits, spaces and `+ - = . _ : / @` become `_`, cut to `limit` characters."""
    return _TAG_CHAR.sub("_", _readable(text))[:limit]


def _readable(name: str) -> str:
    """A name's bytes read as UTF-8, a byte that is not as U+FFFD (what a header or a tag
    can hold of it)."""
    return os.fsencode(name).decode("utf-8", "replace")


def template_problem(template: str) -> str | None:
    """Why an option template cannot be used (an unknown `{field}`), or None."""
    return keys.template_problem(template, TEMPLATE_FIELDS)


def render(template: str, values: Mapping[str, object]) -> str:
    """A checked template filled for one file (`values` has every TEMPLATE_FIELDS name)."""
    return template.format(**values)


def content_disposition(template: str, values: Mapping[str, object]) -> str:
    """Content-Disposition for one file, by RFC 6266: a `{name}` that is not plain ASCII
    goes as `filename*=UTF-8''…` (percent-encoded) after an ASCII `filename="…"` for old
    clients; quotes and backslashes in a name are escaped."""
    name = str(values["name"])
    plain = _readable(name)
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in plain)
    rendered = render(template.replace('"{name}"', "\0"),
                      {**values, "name": fallback})
    if fallback == plain:
        quoted = '"' + plain + '"'
        return _ascii(rendered.replace("\0", quoted))
    encoded = quote(plain.encode("utf-8"), safe="!#$&+-.^_`|~")
    return _ascii(rendered.replace("\0", f"\"{fallback}\"; filename*=UTF-8''{encoded}"))


def _ascii(text: str) -> str:
    """What other fields of a header may hold: non-ASCII and controls become `_`."""
    return "".join(c if " " <= c <= "~" else "_" for c in text)
