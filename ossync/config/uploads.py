"""The `uploads:` section: apps send photos straight to the store through forms ossync
signs (`POST /v1/uploads`), and each lands in the ledger like a watched file.

It rides on the `http:` listener and needs a store a phone can POST to (`oss:` or
`s3:`). Its tokens may ask for uploads and nothing else, so they are their own (never
the listener's token), one a line, each as strong as the listener's must be. A
callback URL is for OSS (S3 has no upload callback); trusting the bundled local
endpoint's callback key is for tests and the demo, and only with a loopback endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ossync.config.checks import local_path, shown, shown_path, text, url
from ossync.config.http import (
    MAKE_ONE,
    MAX_TOKEN_FILE,
    MIN_BITS,
    MIN_TOKEN,
    HttpConfig,
    is_loopback,
    token_bits,
)
from ossync.config.keys_uploads import DEFAULT_TYPES
from ossync.config.private_files import read_private
from ossync.config.problems import Problems
from ossync.core.keys import APP_FIELDS, APP_NAME, APP_PREFIX, AppKeyInputs, render_app_key
from ossync.core.keys import template_problem as key_template_problem

TOKEN_FILE = "upload_token"  # in $CREDENTIALS_DIRECTORY (systemd LoadCredential=)
MAX_TOKENS = 100
LOCAL_KEY_PATH = "/_localoss/"  # where the bundled endpoint serves its callback key
CALLBACK_PATH = "/v1/uploads/callback"
_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_ACTIVE = ("html", "svg", "xml", "javascript", "ecmascript", "x-sh")
_SAMPLE_NAMES = ("IMG_0001.JPG", "../../x", "微信图片_20260101.jpg")


@dataclass(frozen=True)
class UploadsConfig:
    tokens: tuple[str, ...] = field(default=(), repr=False)  # () : see `open`
    token_source: str | None = None
    folder: str = "app"
    prefix: str = APP_PREFIX
    name: str = APP_NAME
    max_file_size: int = 50_000_000
    types: tuple[str, ...] = DEFAULT_TYPES
    expires: float = 600.0
    max_files: int = 9
    callback_url: str | None = None
    check_interval: float = 60.0
    # Key URLs a callback's signature may be checked with besides Alibaba's own: the
    # local endpoint's, with `trust_local_endpoint` (tests and the demo only).
    local_key_prefix: str | None = None


def _tokens(raw: Mapping[str, Any], p: Problems, env: Mapping[str, str],
            base: Path) -> tuple[tuple[str, ...], str | None]:
    """`uploads.token_file`, else `$CREDENTIALS_DIRECTORY/upload_token` if it exists."""
    path = p.optional(raw, "uploads.", "token_file", lambda v: local_path(base, v))
    if raw.get("token_file") is not None and path is None:
        return (), "uploads.token_file"
    if path is None and env.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(env["CREDENTIALS_DIRECTORY"]) / TOKEN_FILE
        path = candidate if candidate.exists() else None
    if path is None:
        return (), None
    try:
        return read_tokens(path), str(path)
    except ValueError as exc:
        p.errors.append(f"uploads.token_file: {exc}")
        return (), str(path)


def read_tokens(path: Path) -> tuple[str, ...]:
    """Every token of the file (one a line; blank lines and `#` comments skipped), each
    long and random enough; the file the daemon user's alone."""
    lines = read_private(path, MAX_TOKEN_FILE * 4).splitlines()
    tokens = [t.strip() for t in lines if t.strip() and not t.strip().startswith("#")]
    if not tokens or len(tokens) > MAX_TOKENS:
        raise ValueError(f"{shown_path(path)}: needs 1 to {MAX_TOKENS} tokens, one a line")
    for number, token in enumerate(tokens, 1):
        if len(token) < MIN_TOKEN or any(c.isspace() for c in token):
            raise ValueError(f"{shown_path(path)}: token {number} must be at least "
                             f"{MIN_TOKEN} characters, without spaces ({MAKE_ONE})")
        if token_bits(token) < MIN_BITS:
            raise ValueError(f"{shown_path(path)}: token {number} is too easy to guess; "
                             f"make a random one ({MAKE_ONE})")
    return tuple(dict.fromkeys(tokens))


def content_types(value: Any) -> tuple[str, ...]:
    """A list of `type/subtype` names, none a type a browser would run."""
    if not isinstance(value, list) or not value or len(value) > 50:
        raise ValueError(f"must be a list of 1 to 50 content types (e.g. [image/jpeg, "
                         f"image/png]), not {shown(value)}")
    found = []
    for item in value:
        kind = text(item).strip().lower()
        if not _TYPE.match(kind):
            raise ValueError(f"{shown(item)} is not a content type like image/jpeg")
        if any(word in kind for word in _ACTIVE):
            raise ValueError(f"{kind}: a browser would run it as a page on the bucket's "
                             "site; only types it shows (images, video) may be sent")
        found.append(kind)
    return tuple(dict.fromkeys(found))


def app_template(value: Any) -> str:
    """A key template of an app upload: the fields of `APP_FIELDS` only."""
    written = text(value)
    problem = key_template_problem(written, APP_FIELDS)
    if problem:
        raise ValueError(problem)
    return written


def _key_problem(prefix: str, name: str, host: str, folder: str) -> str | None:
    when = datetime(2026, 1, 31, 23, 59, 58, tzinfo=timezone.utc)
    for sample in _SAMPLE_NAMES:
        try:
            render_app_key(prefix, name, AppKeyInputs(sample, ".jpg", "a" * 24, when, host,
                                                      folder))
        except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
            return str(exc)[:160]
    return None


def _callback_url(value: Any) -> str:
    written = url(value)
    host = urlsplit(written).hostname or ""
    if ":" in host:
        raise ValueError("OSS calls back on IPv4 addresses and host names only, not IPv6")
    return written


def parse_uploads(raw: Any, p: Problems, env: Mapping[str, str], base: Path, *,
                  http: HttpConfig | None, store: str, endpoint: str, host: str,
                  labels: frozenset[str]) -> UploadsConfig | None:
    """None when the section is absent (apps cannot ask for uploads)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        p.errors.append(f"uploads: must be a mapping (e.g. uploads: {{token_file: "
                        f"/etc/ossync/upload_tokens}}), not {shown(raw)}")
        return None
    p.unknown(raw, "uploads", "uploads.")
    if http is None:
        p.errors.append("uploads: needs the http: listener (apps ask it for uploads at "
                        "POST /v1/uploads); add an http: section")
    if store not in ("oss", "s3"):
        p.errors.append(f"uploads: apps send straight to a bucket, and this config's "
                        f"target is {store}: (use oss: or s3:)")
    tokens, source = _tokens(raw, p, env, base)
    if http is not None and http.token and http.token in tokens:
        p.errors.append("uploads.token_file: holds the listener's own token (http.token_file)"
                        "; an upload token must be one of its own, allowed nothing else")
    if source is None and http is not None and (http.token or not http.loopback):
        p.errors.append("uploads.token_file: missing: the listener has a token, so apps "
                        "need upload tokens of their own (set uploads.token_file, or give "
                        f"systemd credential {TOKEN_FILE})")
    folder = p.get(raw, "uploads.", "folder", text)
    if folder in labels:
        p.errors.append(f"uploads.folder: {folder!r} is a watch folder's label too; give "
                        "app uploads a label of their own")
    prefix = p.get(raw, "uploads.", "prefix", app_template)
    name = p.get(raw, "uploads.", "name", app_template)
    problem = _key_problem(prefix, name, host, folder)
    if problem:
        p.errors.append(f"uploads.name: no upload could get an object key the store "
                        f"accepts ({problem})")
    callback = p.optional(raw, "uploads.", "callback_url", _callback_url)
    if callback is not None and store != "oss":
        p.errors.append("uploads.callback_url: only OSS calls back when an upload lands; "
                        "with s3: apps confirm each upload (POST /v1/uploads/ID/done)")
    trust = p.flag(raw, "uploads.", "trust_local_endpoint")
    local = None
    if trust:
        endpoint_host = urlsplit(endpoint).hostname or ""
        if store != "oss" or not (endpoint_host == "localhost" or is_loopback(endpoint_host)):
            p.errors.append("uploads.trust_local_endpoint: for tests and the demo only: it "
                            "needs an oss.endpoint on loopback (the bundled local endpoint)")
        else:
            local = endpoint.rstrip("/") + LOCAL_KEY_PATH
    return UploadsConfig(
        tokens=tokens, token_source=source, folder=folder, prefix=prefix, name=name,
        max_file_size=p.size(raw, "uploads.", "max_file_size"),
        types=p.get(raw, "uploads.", "types", content_types),
        expires=p.duration(raw, "uploads.", "expires"),
        max_files=p.whole(raw, "uploads.", "max_files"), callback_url=callback,
        check_interval=p.duration(raw, "uploads.", "check_interval"),
        local_key_prefix=local)
