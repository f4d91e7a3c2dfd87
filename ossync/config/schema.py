"""Every config key in one table (`KEYS`), and the look-ups the parser, the reload plan
and the reference generator share: a key by its path, the names a section knows, and
the suggestion for a key nobody knows."""

from __future__ import annotations

import difflib
import re

from ossync.config.key import Key, Reload
from ossync.config.keys_events import EVENTS_TOP, WEBHOOKS
from ossync.config.keys_general import TOP, WATCH
from ossync.config.keys_replicas import REPLICAS
from ossync.config.keys_stores import HTTP, LOCAL, OSS, S3
from ossync.config.keys_uploads import UPLOADS, UPLOADS_TOP

KEYS: tuple[Key, ...] = (*TOP, *UPLOADS_TOP, *EVENTS_TOP, *WATCH, *WEBHOOKS, *REPLICAS, *OSS,
                         *S3, *LOCAL, *HTTP, *UPLOADS)
# `` is the top level
SECTIONS = ("", "watch", "webhooks", "replicas", "oss", "s3", "local", "http", "uploads")
LISTS = ("watch", "webhooks", "replicas")  # lists of entries (`watch[2].prefix`)
_BY_PATH = {key.path: key for key in KEYS}
_INDEX = re.compile(r"^(watch|webhooks|replicas)\[\d+\]")
# A replica's target section takes the keys of the top-level one (`replicas[0].oss.bucket`
# is an `oss.bucket`).
_REPLICA_TARGET = re.compile(r"^replicas\[\d*\]\.(?=(?:oss|s3|local)\.)")
_WHERE = {"": "at the top level", "watch": "in each watch: folder", "oss": "under oss:",
          "s3": "under s3:", "local": "under local:", "http": "under http:",
          "webhooks": "in each webhooks: entry", "replicas": "in each replicas: entry",
          "uploads": "under uploads:"}

# The checks across keys, as the reference lists them (the code is in the parser).
RELATIONS = (
    "Exactly one of oss:, s3: and local: is configured.",
    "retry_max_delay is at least retry_initial_delay.",
    "part_size (unless auto) is at most multipart_threshold, and at least what the store "
    "takes as a part (100KiB on OSS, 5MiB on S3).",
    "max_file_size is at most what the store holds (50000GiB on OSS, 5TiB on S3 and "
    "local).",
    "The endpoint of oss: or s3: names the region, not the bucket: "
    "https://my-bucket.oss-cn-hangzhou.aliyuncs.com is refused with bucket: my-bucket.",
    "prefix and name (top level and per folder) can yield a key the store accepts: no "
    "leading /, no . or .. segment, 1 to 1023 bytes.",
    "s3.addressing: virtual needs a host name, not an IP address or localhost.",
    "watch[].move_to is set when after_upload is move, and is outside the watched folder.",
    "Every watch folder has its own label.",
    "http.listen on an address other than loopback needs a token (http.token_file).",
    "Every webhook has its own name (and none is called on_upload), and a secret file "
    "(webhooks[].secret_file, or the systemd credential webhook_secret).",
    "Every replica has its own name (not primary) and exactly one of oss:, s3: and local:, "
    "neither the primary's bucket (or folder) nor another replica's; a watch folder's "
    "replicas: names configured replicas.",
    "uploads: needs http: and an oss: or s3: target; its tokens (uploads.token_file) are "
    "required when the listener has a token, and none of them may be the listener's.",
    "uploads.folder is not a watch folder's label; uploads.callback_url is for oss: only; "
    "uploads.trust_local_endpoint needs an oss.endpoint on loopback.",
)


def normal(path: str) -> str:
    """`watch[3].prefix` → `watch[].prefix`, `replicas[1].oss.bucket` → `oss.bucket`: the
    key a problem path belongs to."""
    return _INDEX.sub(r"\1[]", _REPLICA_TARGET.sub("", path))


def spec(path: str) -> Key:
    """The key at `path` (`workers`, `oss.bucket`, `watch[2].prefix`)."""
    try:
        return _BY_PATH[normal(path)]
    except KeyError:
        raise KeyError(f"config key {path!r} has no entry in ossync/config/keys_*.py") from None


def section_keys(section: str) -> tuple[Key, ...]:
    return tuple(key for key in KEYS if key.section == section)


def names(section: str) -> frozenset[str]:
    """The key names `section` knows (`` for the top level)."""
    return frozenset(key.name for key in section_keys(section))


def reload_class(path: str) -> Reload:
    """`live` or `restart` for a setting path; a key inside a section takes its own."""
    return spec(path).reload


def suggestion(name: str, section: str) -> str:
    """`; did you mean strip_metadata?`, `; strip_metadata belongs in each watch: folder`,
    or `` when nothing is close."""
    close = difflib.get_close_matches(name, sorted(names(section)), n=1, cutoff=0.75)
    if close:
        return f"; did you mean {close[0]}?"
    for other in SECTIONS:
        if other != section and name in names(other):
            return f"; {name} belongs {_WHERE[other]}"
    for other in SECTIONS:
        close = difflib.get_close_matches(name, sorted(names(other)), n=1, cutoff=0.8)
        if other != section and close:
            return f"; did you mean {close[0]} ({_WHERE[other]})?"
    return ""
