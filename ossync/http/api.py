"""`GET /v1/files`: the ledger for apps on other hosts, in the JSON of `ossync show --json`.

One look-up (`path=`, `sha256=` or `key=`), or a page of the newest files
(`since`, `until`, `folder`, `state`, `limit`, and `cursor` from the `Link` header of
the page before). Answers come from the ledger alone: a path is text to look up,
never a file to open, so nothing outside the ledger can be asked about. URLs are
chosen as the CLI chooses them: the config's `oss.url_mode`, or `signed=true|false`,
with `expires=` and `process=`.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from ossync.core.units import parse_duration, parse_time
from ossync.http.view import DaemonView, current_credentials
from ossync.http.wsgi import HttpProblem, Request, Response, json_response
from ossync.ledger import STATES, Item, Ledger
from ossync.ledger.present import UrlChoice
from ossync.targets.oss.presign import UrlSigner, lifetime_seconds

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_TEXT = 4096  # characters of a path, key or processing spec
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LOOKUPS = ("path", "sha256", "key")


def _text(req: Request, name: str) -> str | None:
    value = req.arg(name)
    if value is not None and (len(value) > MAX_TEXT or "\x00" in value):
        raise HttpProblem(400, f"{name}: too long, or not text")
    return value


def _flag(req: Request, name: str) -> bool | None:
    value = req.arg(name)
    if value is None:
        return None
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise HttpProblem(400, f"{name}: must be true or false")


def url_choice(daemon: DaemonView, *, signed: bool | None = None,
               expires: float | None = None, process: str | None = None) -> UrlChoice:
    """As `ossync url/ls/show` choose: the config's url_mode unless `signed` says."""
    oss = daemon.config.oss
    mode = ("signed" if signed else "public") if signed is not None else (
        oss.url_mode if oss is not None else "public")
    if mode == "public":
        if expires is not None:
            raise HttpProblem(400, "expires applies to signed URLs only (add signed=true)")
        return UrlChoice(process=process)
    if oss is None:
        raise HttpProblem(400, f"signed URLs are made for oss: targets only, and this "
                               f"daemon's target is {daemon.config.target_name}:")
    creds = current_credentials(daemon)
    if creds is None:
        raise HttpProblem(503, "no valid credentials to sign URLs with right now")
    moment = datetime.now(timezone.utc)
    signer = UrlSigner(creds, oss.endpoint, oss.region, cname=oss.cname,
                       signature_version=oss.signature_version, expires=oss.url_expires,
                       clock=lambda: moment)  # one moment for every URL of the answer
    return UrlChoice(signer, oss.url_expires if expires is None else expires, process)


def _choice(daemon: DaemonView, req: Request) -> UrlChoice:
    expires_text = req.arg("expires")
    expires = None
    if expires_text is not None:
        try:
            expires = float(lifetime_seconds(parse_duration(expires_text)))
        except ValueError as exc:
            raise HttpProblem(400, f"expires: {exc}") from None
    return url_choice(daemon, signed=_flag(req, "signed"), expires=expires,
                      process=_text(req, "process"))


def files(daemon: DaemonView, ledger: Ledger, req: Request) -> Response:
    asked = [name for name in LOOKUPS if req.arg(name) is not None]
    if len(asked) > 1:
        raise HttpProblem(400, "ask for one of path=, sha256= and key= at a time")
    choice = _choice(daemon, req)
    if asked:
        items = _lookup(ledger, req, asked[0])
        if not items:
            raise HttpProblem(404, f"nothing in the ledger for that {asked[0]}")
        return json_response([choice.row(i) for i in items])
    page = _page(ledger, req)
    headers: tuple[tuple[str, str], ...] = ()
    if page.next_cursor is not None:
        query = {k: v[0] for k, v in req.query.items() if k != "cursor"}
        link = "/v1/files?" + urlencode({**query, "cursor": page.next_cursor})
        headers = (("Link", f'<{link}>; rel="next"'),)
    return json_response([choice.row(i) for i in page.items], headers=headers)


def _lookup(ledger: Ledger, req: Request, name: str) -> list[Item]:
    value = _text(req, name) or ""
    if name == "sha256":
        if not _SHA256.match(value):
            raise HttpProblem(400, "sha256: must be 64 hexadecimal digits")
        return ledger.find(sha256=value)
    if name == "key":
        return ledger.find(key=value)
    if not value.startswith("/"):
        raise HttpProblem(400, "path: must be absolute, as the daemon recorded it")
    return ledger.find(path=posixpath.normpath(value), host=_text(req, "host"))


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next_cursor: str | None


def _time(req: Request, name: str) -> datetime | None:
    value = req.arg(name)
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise HttpProblem(400, f"{name}: {exc}") from None


def _page(ledger: Ledger, req: Request) -> Page:
    limit = _limit(req.arg("limit"))
    state = req.arg("state") or "uploaded"
    if state not in (*STATES, "all"):
        raise HttpProblem(400, f"state: must be one of {', '.join(STATES)}, all")
    folder = _text(req, "folder")
    if folder is not None and "/" in folder:
        folder = ledger.folder_under(posixpath.normpath(folder)) or folder
    since, until = _time(req, "since"), _time(req, "until")
    after, skip = decode_cursor(req.arg("cursor"))
    if after is not None:  # rows at or before the last one shown, minus those shown
        bound = _moment(after) + timedelta(milliseconds=1)
        until = bound if until is None else min(until, bound)
    found = list(ledger.iter_items(since=since, until=until, folder=folder,
                                   state=None if state == "all" else state,
                                   limit=skip + limit + 1))
    # The rows of that millisecond come first; skip those shown (fewer, if one moved on).
    done = sum(1 for i in found[:skip] if i.updated_at == after)
    rest = found[done:]
    items = rest[:limit]
    if len(rest) <= limit or not items:
        return Page(items, None)
    last = items[-1].updated_at
    shown = sum(1 for i in items if i.updated_at == last) + (done if after == last else 0)
    return Page(items, encode_cursor(last, shown))


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise HttpProblem(400, f"limit: must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def encode_cursor(updated_at: str, skip: int) -> str:
    """Where the next page starts: rows updated at or before `updated_at`, less the
    `skip` rows of that very millisecond already shown."""
    return base64.urlsafe_b64encode(f"{updated_at}|{skip}".encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[str | None, int]:
    if text is None:
        return None, 0
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        stamp, _, skip = raw.partition("|")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HttpProblem(400, "cursor: not one this API gave out") from None
    if not _STAMP.match(stamp) or not skip.isdigit() or int(skip) > 1_000_000:
        raise HttpProblem(400, "cursor: not one this API gave out")
    return stamp, int(skip)
