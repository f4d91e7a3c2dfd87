"""`GET /v1/files`: the ledger for apps on other hosts, in the JSON of `ossync show --json`.

One look-up (`path=`, `sha256=` or `key=`), or a page of the newest files
(`since`, `until`, `folder`, `state`, `limit`, and `cursor` from the `Link` header of
the page before). Answers come from the ledger alone: a path is text to look up,
never a file to open, so nothing outside the ledger can be asked about; it may be
written in the ledger form or the printable form (`ossync.core.textforms`), as the
CLI takes it. URLs are chosen as the CLI chooses them: the config's `oss.url_mode`,
or `signed=true|false`, with `expires=` (at most `http.max_url_expires`, by default
`oss.url_expires`) and `process=` (an allow-list, `ossync.http.process`, or off).
Values are read strictly (`ossync.http.query`).
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import ossync.http.query as query
from ossync.config import HttpConfig
from ossync.core.textforms import os_path
from ossync.core.units import format_duration
from ossync.http.process import checked
from ossync.http.view import DaemonView, current_credentials
from ossync.http.wsgi import HttpProblem, Request, Response, json_response
from ossync.ledger import STATES, Item, Ledger
from ossync.ledger.present import UrlChoice, with_copies
from ossync.targets.oss.presign import UrlSigner, lifetime_seconds

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SKIP = 1_000_000
_SHA256 = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z",
                    re.ASCII)
LOOKUPS = ("path", "sha256", "key")


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


def _most(daemon: DaemonView, config: HttpConfig) -> float | None:
    """The longest lifetime a caller may ask for (None: no OSS target, nothing signed)."""
    oss = daemon.config.oss
    if oss is None:
        return None
    return oss.url_expires if config.max_url_expires is None else config.max_url_expires


def _choice(daemon: DaemonView, req: Request, config: HttpConfig) -> UrlChoice:
    expires = query.seconds(req, "expires")
    most = _most(daemon, config)
    if expires is not None:
        try:
            expires = float(lifetime_seconds(expires))
        except ValueError as exc:
            raise HttpProblem(400, f"expires: {exc}") from None
        if most is not None and expires > most:
            raise HttpProblem(400, f"expires: at most {format_duration(most)} here "
                                   "(http.max_url_expires)")
    elif most is not None and daemon.config.oss is not None \
            and daemon.config.oss.url_expires > most:
        expires = most
    process = query.text(req, "process")
    if process is not None:
        if not config.allow_process:
            raise HttpProblem(400, "process: image processing is off here "
                                   "(http.allow_process)")
        process = checked(process)
    return url_choice(daemon, signed=query.flag(req, "signed"), expires=expires,
                      process=process)


def files(daemon: DaemonView, ledger: Ledger, req: Request, config: HttpConfig) -> Response:
    asked = [name for name in LOOKUPS if req.arg(name) is not None]
    if len(asked) > 1:
        raise HttpProblem(400, "ask for one of path=, sha256= and key= at a time")
    choice = _choice(daemon, req, config)
    if asked:
        items = _lookup(ledger, req, asked[0])
        if not items:
            raise HttpProblem(404, f"nothing in the ledger for that {asked[0]}")
        return json_response(with_copies([choice.row(i) for i in items], items, ledger))
    page = _page(ledger, req)
    headers: tuple[tuple[str, str], ...] = ()
    if page.next_cursor is not None:
        kept = {k: v[0] for k, v in req.query.items() if k != "cursor"}
        link = "/v1/files?" + urlencode({**kept, "cursor": page.next_cursor})
        headers = (("Link", f'<{link}>; rel="next"'),)
    return json_response(with_copies([choice.row(i) for i in page.items], page.items, ledger),
                         headers=headers)


def _lookup(ledger: Ledger, req: Request, name: str) -> list[Item]:
    if name == "sha256":
        value = query.word(req, name) or ""
        if not _SHA256.fullmatch(value):
            raise HttpProblem(400, "sha256: must be 64 hexadecimal digits")
        return ledger.find(sha256=value)
    if name == "key":
        return ledger.find(key=query.text(req, name) or "")
    value = query.text(req, name, names_a_file=True) or ""
    host = query.text(req, "host")
    if not value.startswith("/"):
        raise HttpProblem(400, "path: must be absolute, as the daemon recorded it")
    for reading in dict.fromkeys((os_path(value), value)):  # the escaped forms, then as is
        found = ledger.find(path=posixpath.normpath(reading), host=host)
        if found:
            return found
    return []


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next_cursor: str | None


def _page(ledger: Ledger, req: Request) -> Page:
    limit = query.whole(req, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    state = query.word(req, "state") or "uploaded"
    if state not in (*STATES, "all"):
        raise HttpProblem(400, f"state: must be one of {', '.join(STATES)}, all")
    folder = query.text(req, "folder", names_a_file=True)
    if folder is not None and "/" in folder:
        folder = ledger.folder_under(posixpath.normpath(os_path(folder))) or folder
    since, until = query.moment(req, "since"), query.moment(req, "until")
    after, skip = decode_cursor(query.word(req, "cursor"))
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


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def encode_cursor(updated_at: str, skip: int) -> str:
    """Where the next page starts: rows updated at or before `updated_at`, less the
    `skip` rows of that very millisecond already shown."""
    return base64.urlsafe_b64encode(f"{updated_at}|{skip}".encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[str | None, int]:
    if text is None:
        return None, 0
    bad = HttpProblem(400, "cursor: not one this API gave out")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        stamp, _, skip = raw.partition("|")
        if not _STAMP.fullmatch(stamp) or not re.fullmatch(r"[0-9]{1,7}", skip, re.ASCII) \
                or int(skip) > MAX_SKIP:
            raise bad
        moment = _moment(stamp)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise bad from None
    if not query.EARLIEST <= moment < query.LATEST:
        raise bad
    return stamp, int(skip)
