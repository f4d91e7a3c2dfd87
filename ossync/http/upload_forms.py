"""What `POST /v1/uploads` asks for, read strictly, and the forms that answer it.

The request is `{"files": [{"name", "size", "type"}, …]}`: at most `uploads.max_files`
files, each with a name (any text: it only becomes a safe `{stem}`), an exact size up to
`uploads.max_file_size` and one of `uploads.types`. Anything wrong is refused with one
reason per file and nothing is issued. Each accepted file gets an unguessable id, its
key from the `uploads:` templates, and a form pinning bucket, key, size, type, success
status (and, on OSS with `uploads.callback_url`, the callback that names the id).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ossync.config import UploadsConfig
from ossync.core.credentials import Credentials
from ossync.core.keys import AppKeyInputs, app_stem, render_app_key
from ossync.core.textforms import printable
from ossync.ledger import Issued
from ossync.ledger.records import stamp
from ossync.targets.direct import DirectForm, FormIssuer, FormRequest

MAX_NAME = 4096  # characters of a client's file name read at all (the key keeps 100)
ID_BYTES = 12  # 96 random bits: 24 hexadecimal digits
MIN_LIFETIME = 60.0  # seconds: keys that expire sooner sign nothing
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
              "image/webp": ".webp", "image/heic": ".heic", "image/heif": ".heif",
              "image/avif": ".avif"}
# What OSS fills in when it calls back: the id is written in, and the policy pins it all.
CALLBACK_BODY = ("id={id}&bucket=${{bucket}}&object=${{object}}&size=${{size}}"
                 "&mimeType=${{mimeType}}&crc64=${{crc64}}&etag=${{etag}}")
CALLBACK_TYPE = "application/x-www-form-urlencoded"


class Refused(Exception):
    """The request as a whole is refused (`reasons`: one per file, None for a good one)."""

    def __init__(self, message: str, reasons: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = reasons or []


@dataclass(frozen=True)
class Asked:
    name: str
    size: int
    content_type: str


def read_request(body: bytes, config: UploadsConfig) -> list[Asked]:
    """The files asked for, or `Refused` saying why (per file where it is a file's fault)."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused('the body must be JSON: {"files": [{"name", "size", "type"}, ...]}'
                      ) from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list) or not files:
        raise Refused('"files" must be a list of {"name", "size", "type"} objects')
    if len(files) > config.max_files:
        raise Refused(f"at most {config.max_files} files a request (uploads.max_files), "
                      f"not {len(files)}")
    asked, reasons, bad = [], [], 0
    for entry in files:
        reason = _problem(entry, config)
        name = entry.get("name") if isinstance(entry, dict) else None
        shown = printable(name[:200]) if isinstance(name, str) else None
        reasons.append({"name": shown, "error": reason})
        if reason is None:
            asked.append(Asked(entry["name"], entry["size"], entry["type"].lower()))
        else:
            bad += 1
    if bad:
        raise Refused(f"{bad} of {len(files)} file(s) refused; nothing was issued", reasons)
    return asked


def _problem(entry: Any, config: UploadsConfig) -> str | None:
    if not isinstance(entry, dict):
        return 'each file must be an object {"name", "size", "type"}'
    name, size, kind = entry.get("name"), entry.get("size"), entry.get("type")
    if not isinstance(name, str) or not name:
        return "name: must be the file's name (text)"
    if len(name) > MAX_NAME:
        return f"name: at most {MAX_NAME} characters"
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        return "size: must be the file's size in bytes (a whole number above 0)"
    if size > config.max_file_size:
        return f"size: {size} bytes is over the limit of {config.max_file_size} " \
               "(uploads.max_file_size)"
    if not isinstance(kind, str) or kind.lower() not in config.types:
        return f"type: must be one of {', '.join(config.types)}"
    return None


def extension(content_type: str) -> str:
    return EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""


def lifetime(config: UploadsConfig, creds: Credentials, now: datetime) -> timedelta | None:
    """`uploads.expires`, cut to the keys' own expiry; None when they expire too soon."""
    seconds = config.expires
    if creds.expires_at is not None:
        seconds = min(seconds, (creds.expires_at - now).total_seconds())
    return timedelta(seconds=int(seconds)) if seconds >= MIN_LIFETIME else None


@dataclass(frozen=True)
class Made:
    issued: Issued
    form: DirectForm


def make_forms(asked: list[Asked], config: UploadsConfig, issuer: FormIssuer,
               creds: Credentials, *, host: str, now: datetime, life: timedelta
               ) -> list[Made]:
    made = []
    expires = now + life
    for one in asked:
        upload_id = secrets.token_hex(ID_BYTES)
        ext = extension(one.content_type)
        key = render_app_key(config.prefix, config.name, AppKeyInputs(
            one.name, ext, upload_id, now, host, config.folder))
        callback = _callback(config, upload_id) if issuer.store == "oss" else None
        form = issuer.form(creds, FormRequest(key, one.size, one.content_type,
                                              callback=callback), now=now, lifetime=life)
        issued = Issued(id=upload_id, host=host, folder=config.folder,
                        path=f"upload:{upload_id}/{app_stem(one.name)}{ext}", bucket=issuer.bucket,
                        key=key, name=printable(one.name[:200]), size=one.size,
                        content_type=one.content_type, issued_at=stamp(now),
                        expires_at=stamp(expires), next_check=stamp(expires))
        made.append(Made(issued, form))
    return made


def _callback(config: UploadsConfig, upload_id: str) -> str | None:
    if config.callback_url is None:
        return None
    doc = {"callbackUrl": config.callback_url, "callbackBody": CALLBACK_BODY.format(
        id=upload_id), "callbackBodyType": CALLBACK_TYPE}
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def answer(made: list[Made]) -> dict[str, Any]:
    return {"uploads": [{"id": m.issued.id, "key": m.issued.key, "method": "POST",
                         "url": m.form.url, "fields": m.form.fields,
                         "expires": m.issued.expires_at} for m in made]}
