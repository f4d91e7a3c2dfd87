"""The routes of direct uploads (`uploads:`), for apps on phones, browsers, mini-programs.

| route | auth | answers |
|---|---|---|
| `POST /v1/uploads` | an upload token | `{"uploads": [{id, key, method, url, fields, expires}]}` |
| `POST /v1/uploads/ID/done` | an upload token | the recorded row, as `/v1/files` shows it |
| `POST /v1/uploads/callback` | OSS's RSA signature | the recorded row (OSS relays it) |

An upload token (`uploads.token_file`) opens these routes and nothing else; the
listener's own token does not open them. The upload page (`upload_page`) asks with its
session and CSRF token instead, so no token is ever in a page. A refused request writes
nothing; the forms of an accepted one are written down before the answer goes out.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

import ossync.http.landing as landing
import ossync.http.upload_callback as callback
import ossync.http.upload_forms as forms
from ossync.config import UploadsConfig
from ossync.config.uploads import CALLBACK_PATH
from ossync.core.objects import ObjectInfo
from ossync.core.textforms import printable
from ossync.http.api import url_choice
from ossync.http.guard import Guard, one_of, same_origin
from ossync.http.view import DaemonView, current_credentials
from ossync.http.wsgi import HttpProblem, Request, Response, json_response
from ossync.ledger import Issued

log = logging.getLogger("ossync.http.uploads")
_DONE = re.compile(r"/v1/uploads/([0-9a-f]{24})/done", re.ASCII)
UNAUTHORIZED = (("WWW-Authenticate", 'Bearer realm="ossync uploads"'),)


class Desk:
    def __init__(self, daemon: DaemonView, config: UploadsConfig, guard: Guard) -> None:
        self.daemon = daemon
        self.config = config
        self.guard = guard
        self.locked = guard.locked and not config.tokens  # no token at all, one required
        self.keys = callback.KeyCache(config.local_key_prefix)

    def handles(self, path: str) -> bool:
        return path == "/v1/uploads" or path.startswith("/v1/uploads/")

    def route(self, req: Request) -> Response:
        if req.method != "POST":
            raise HttpProblem(405, f"{req.path} answers POST only")
        if req.path == CALLBACK_PATH:
            return self._callback(req)
        done = _DONE.fullmatch(req.path)
        if req.path != "/v1/uploads" and done is None:
            raise HttpProblem(404, "no such page")
        if not self._allowed(req.authorization) and not self._page(req):
            return json_response({"error": "an upload token is needed here"}, 401,
                                 UNAUTHORIZED)
        return self._ask(req) if done is None else self._done(done.group(1), req)

    def _allowed(self, authorization: str | None) -> bool:
        if not self.config.tokens:
            return not self.locked
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and one_of(given.strip(), self.config.tokens)

    def _page(self, req: Request) -> bool:
        """The upload page's own requests: whoever may see the page (its session, or no
        token at all on loopback), from the page itself (same origin, its CSRF token)."""
        if req.csrf is None or req.authorization is not None:
            return False
        allowed, sid = self.guard.page(None, req.cookie)
        return allowed and same_origin(req.origin, req.host) and \
            self.guard.csrf_ok(req.csrf, sid)

    def _ask(self, req: Request) -> Response:
        issuer = self.daemon.forms
        creds = current_credentials(self.daemon)
        if issuer is None or creds is None:
            raise HttpProblem(503, "no valid keys to sign upload forms with right now")
        try:
            asked = forms.read_request(req.body, self.config)
        except forms.Refused as exc:
            return json_response({"error": exc.message, "files": exc.reasons}, 400)
        now = datetime.now(timezone.utc)
        life = forms.lifetime(self.config, creds, now)
        if life is None:
            raise HttpProblem(503, "the keys expire too soon to sign upload forms with")
        made = forms.make_forms(asked, self.config, issuer, creds,
                                host=self.daemon.config.host, now=now, life=life)
        self.daemon.ledger.issue([m.issued for m in made])  # before the answer goes out
        log.debug("issued %d upload form(s) to %s", len(made), printable(req.client))
        return json_response(forms.answer(made))

    def _done(self, upload_id: str, req: Request) -> Response:
        issued = self._issued(upload_id)
        expected = _expected(req.body)
        if issued.state == "recorded":  # a second confirm, or one after the callback
            return json_response(self._row(issued))
        try:
            found = landing.confirm(self.daemon.ledger, self.daemon.target, issued, expected)
        except landing.Mismatch as exc:
            raise HttpProblem(409, f"not recorded: {exc}") from None
        if found is None:
            raise HttpProblem(409, "the object is not in the bucket (yet): send the file "
                                   "with its form first")
        return json_response(self._row(issued))

    def _issued(self, upload_id: str) -> Issued:
        issued = self.daemon.ledger.issued(upload_id)
        if issued is None or issued.host != self.daemon.config.host:
            raise HttpProblem(404, "no upload with that id was issued here (or it expired "
                                   "unused)")
        return issued

    def _row(self, issued: Issued) -> dict[str, Any]:
        item = self.daemon.ledger.item(issued.path)
        if item is None:  # pragma: no cover - recorded in the same transaction
            raise HttpProblem(500, "recorded, but the row cannot be read back")
        return url_choice(self.daemon).row(item)

    def _callback(self, req: Request) -> Response:
        if self.config.callback_url is None:
            raise HttpProblem(404, "no upload callbacks here (uploads.callback_url)")
        try:
            key = self.keys.key(req.pub_key_url or "")
            callback.verify_any(key, req.authorization, [callback.string_to_sign(
                path, req.raw_query, req.body) for path in callback_paths(self.config, req)])
            landed = callback.read_body(req.body)
        except callback.Forged as exc:
            log.warning("refused an upload callback from %s: %s", printable(req.client), exc)
            raise HttpProblem(403, f"not a callback OSS signed: {exc}") from None
        issued = self._issued(landed.id)
        if (landed.bucket, landed.key) != (issued.bucket, issued.key):
            raise HttpProblem(409, "the callback names another object than its form")
        info = ObjectInfo(landed.key, landed.size, landed.etag, landed.crc64,
                                  landed.content_type)
        try:
            landing.checked(issued, info)
        except landing.Mismatch as exc:
            raise HttpProblem(409, f"not recorded: {exc}") from None
        landing.record(self.daemon.ledger, self.daemon.target, issued, info)
        return json_response(self._row(issued))


def callback_paths(config: UploadsConfig, req: Request) -> list[bytes]:
    """What OSS may have signed: the path asked for, or the callback URL's own path (a
    proxy in front may have moved the listener under another path)."""
    paths = [req.path.encode("latin-1")]
    if config.callback_url is not None:
        configured = unquote(urlsplit(config.callback_url).path or "/").encode()
        if configured not in paths:
            paths.append(configured)
    return paths


def _expected(body: bytes) -> landing.Expected:
    """`{"crc64": "…", "etag": "…"}`, each optional, the body optional."""
    if not body.strip():
        return landing.Expected()
    try:
        doc = json.loads(body.decode("utf-8"))
        if not isinstance(doc, dict):
            raise ValueError
        crc, etag = doc.get("crc64"), doc.get("etag")
        return landing.Expected(
            int(crc) if crc is not None else None, str(etag) if etag is not None else None)
    except (UnicodeDecodeError, ValueError, TypeError):
        raise HttpProblem(400, 'the body must be JSON: {"crc64": "…", "etag": "…"} (both '
                               "optional)") from None
