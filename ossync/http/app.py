"""The WSGI application: one guard in front (rate limit, Host, token), then the routes.

| route | auth | answers |
|---|---|---|
| `GET /healthz` | none | 200 `ok` while the process serves (the reasons: token) |
| `GET /readyz` | none | 200 or 503 (the reasons: token) |
| `GET /style.css` | none | the page's CSS |
| `GET /metrics` | token | Prometheus text format, from the meter's own registry |
| `GET /v1/files` | token | the URL API (`ossync.http.api`) |
| `GET /v1/events` | token | the events, in order, long-polled (`ossync.http.feed`) |
| `GET /` | token or session | the status page (a sign-in form without one) |
| `POST /login` | the token, typed | starts a session: its cookie |
| `POST /logout` | session, CSRF | ends it |
| `POST /retry` | token or session, CSRF | `retry_failed` for one path |
| `POST /v1/uploads…` | an upload token (the callback: OSS's signature) | `ossync.http.direct` |
| `GET /upload` | token or session | the upload page (`ossync.http.upload_page`) |
| `GET /static/…` | none | the upload page's script and its vendored Uppy |

"token" is the bearer token alone: a session opens the page and its forms, nothing
else. Without a token configured every route is open (on loopback, with the Host
check), unless `http.require_token` shuts the guarded ones.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.exposition import choose_encoder

import ossync.http.api as api
import ossync.http.feed as feed
import ossync.http.page as page
import ossync.http.upload_page as upload_page
from ossync.config import HttpConfig
from ossync.config.events import cursor_name
from ossync.core.credentials import CredentialsUnavailable
from ossync.core.textforms import os_path, printable
from ossync.http.direct import Desk
from ossync.http.guard import Guard, same_origin
from ossync.http.limits import RateLimiter, client_key
from ossync.http.meter import Meter
from ossync.http.ready import Readiness
from ossync.http.view import DaemonView, folder_states
from ossync.http.wsgi import (
    HttpProblem,
    Request,
    Response,
    json_response,
    redirect,
    text_response,
)
from ossync.ledger import Delivery, Ledger, LedgerError
from ossync.ledger.present import UrlChoice

log = logging.getLogger("ossync.http")
PAGE_CSP = ("default-src 'none'; img-src http: https: data:; style-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
UNAUTHORIZED = (("WWW-Authenticate", 'Bearer realm="ossync"'),)
LOCKED = ("a token is required here (http.require_token), and none is set: set "
          "http.token_file")
GUARDED = {"/metrics": "GET", "/v1/files": "GET", "/v1/events": "GET", "/": "GET",
           "/retry": "POST", "/logout": "POST"}
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class App:
    def __init__(self, daemon: DaemonView, ledger: Ledger, meter: Meter,
                 config: HttpConfig, port: int, limiter: RateLimiter) -> None:
        self.daemon = daemon
        self.ledger = ledger  # read-only: the page, the API and the scrape read here
        self.meter = meter
        self.config = config
        self.guard = Guard(config, port, limiter)
        self.readiness = Readiness(daemon, meter, config.ready_within)
        self.polls = threading.BoundedSemaphore(feed.MAX_POLLS)  # /v1/events waiting
        uploads = daemon.config.uploads
        self.desk = None if uploads is None else Desk(daemon, uploads, self.guard)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        try:
            req = Request.from_environ(environ)
            response = self.handle(req)
        except HttpProblem as exc:
            response = json_response({"error": exc.message}, exc.status)
        start_response(response.status_line, response.wsgi_headers())
        if str(environ.get("REQUEST_METHOD", "")).upper() == "HEAD":
            return []  # the headers of a GET, Content-Length included, and no body
        return [response.body]

    def handle(self, req: Request) -> Response:
        wait = self.guard.limiter.take(client_key(req.client))
        if wait:
            return json_response({"error": "too many requests"}, 429,
                                 (("Retry-After", str(max(1, math.ceil(wait)))),))
        if not self.guard.host_allowed(req.host):
            return json_response({"error": "unknown host name"}, 421)
        try:
            return self._route(req)
        except HttpProblem as exc:
            return json_response({"error": exc.message}, exc.status)
        except LedgerError as exc:
            log.warning("HTTP %s %s: the ledger did not answer: %s", req.method,
                        printable(req.path), exc)
            return json_response({"error": "the ledger cannot be read right now"}, 503)
        except CredentialsUnavailable as exc:
            return json_response({"error": f"no URL can be signed right now: {exc}"}, 503)
        except Exception:  # a bug costs one request, never the listener
            log.exception("HTTP %s %s failed", req.method, printable(req.path))
            return json_response({"error": "internal error (see the daemon's log)"}, 500)

    def _route(self, req: Request) -> Response:
        method = "GET" if req.method == "HEAD" else req.method
        route = (method, req.path)
        if route == ("GET", "/healthz"):
            return self._alive(req)
        if route == ("GET", "/readyz"):
            return self._ready(req)
        if route == ("GET", "/style.css"):
            return Response(200, page.STYLE.encode(), "text/css; charset=utf-8")
        if route == ("POST", "/login"):
            return self._login(req)
        if self.desk is not None and self.desk.handles(req.path):
            return self.desk.route(req)
        if self.desk is not None and method == "GET" and req.path in upload_page.STATIC:
            kind = upload_page.STATIC[req.path][1]
            return Response(200, upload_page.static_file(req.path), kind)
        if self.desk is not None and route == ("GET", "/upload"):
            return self._upload_page(req)
        if req.path not in GUARDED:
            raise HttpProblem(404, "no such page")
        if method != GUARDED[req.path]:
            raise HttpProblem(405, f"{req.path} answers {GUARDED[req.path]} only")
        if req.path in ("/metrics", "/v1/files", "/v1/events"):  # the bearer token alone
            if not self.guard.bearer(req.authorization):
                return self._unauthorized()
            if req.path == "/v1/files":
                return api.files(self.daemon, self.ledger, req, self.config)
            if req.path == "/v1/events":
                return feed.events(self.ledger, req, self.daemon.stop_event, self.polls)
            encode, kind = choose_encoder(req.accept or "")  # OpenMetrics when asked
            return Response(200, encode(self.meter.registry), kind)
        allowed, sid = self.guard.page(req.authorization, req.cookie)
        if not allowed:
            if req.path == "/":
                text = page.locked_page(LOCKED) if self.guard.locked else page.login_page()
                return self._html(text, 401)
            return self._unauthorized()
        if req.path == "/":
            return self._page(req, sid)
        self._form_checks(req, sid)
        return self._retry(req) if req.path == "/retry" else self._logout(sid)

    def _upload_page(self, req: Request) -> Response:
        """The upload page, for whoever may see the status page (`ossync.http.upload_page`)."""
        allowed, sid = self.guard.page(req.authorization, req.cookie)
        if not allowed:
            text = page.locked_page(LOCKED) if self.guard.locked else page.login_page()
            return self._html(text, 401)
        assert self.desk is not None
        issuer = self.daemon.forms
        text = upload_page.render(self.daemon.config.host, self.desk.config,
                                  self.guard.csrf(sid))
        policy = upload_page.csp(issuer.url if issuer is not None else "")
        return Response(200, text.encode(), "text/html; charset=utf-8",
                        (("Content-Security-Policy", policy),))

    def _unauthorized(self) -> Response:
        message = LOCKED if self.guard.locked else "unauthorized"
        return json_response({"error": message}, 401, UNAUTHORIZED)

    def _details(self, req: Request) -> bool:
        """With a token set, the reasons of /healthz and /readyz (store errors, ledger
        places) are for the token's holders; the verdict is for everyone (a load
        balancer's check has no token). Without one, the Host check guards them."""
        return self.guard.token is None or self.guard.bearer(req.authorization)

    def _alive(self, req: Request) -> Response:
        """Liveness: every stage runs, the main loop turns, no worker is stuck — the same
        verdict that feeds systemd's watchdog."""
        problems = self.daemon.health_problems()
        if not problems:
            return text_response("ok\n")
        shown = "".join(f"- {p}\n" for p in problems) if self._details(req) else ""
        return text_response("unhealthy:\n" + shown, 503)

    def _ready(self, req: Request) -> Response:
        verdict = self.readiness.check()
        if verdict.ready:
            return text_response("ready\n")
        shown = "".join(f"- {p}\n" for p in verdict.problems) if self._details(req) else ""
        return text_response("not ready:\n" + shown, 503)

    def _html(self, text: str, status: int = 200,
              headers: tuple[tuple[str, str], ...] = ()) -> Response:
        return Response(status, text.encode("utf-8", "replace"), "text/html; charset=utf-8",
                        (("Content-Security-Policy", PAGE_CSP), *headers))

    def _login(self, req: Request) -> Response:
        if not same_origin(req.origin, req.host):
            raise HttpProblem(403, "a form from another site")
        if self.guard.token is None:
            return redirect("/")
        sid = self.guard.login(req.field("token"))
        if sid is None:
            return self._html(page.login_page("That is not the token."), 401)
        return redirect("/", (("Set-Cookie", self.guard.sessions.set_cookie(sid)),))

    def _form_checks(self, req: Request, sid: str | None) -> None:
        if not same_origin(req.origin, req.host):
            raise HttpProblem(403, "a form from another site")
        if not self.guard.csrf_ok(req.field("csrf"), sid):
            raise HttpProblem(403, "the form is stale: reload the page")

    def _logout(self, sid: str | None) -> Response:
        if sid is not None:
            self.guard.sessions.end(sid)
        return redirect("/", (("Set-Cookie", self.guard.sessions.clear_cookie()),))

    def _retry(self, req: Request) -> Response:
        """The form carries the printable form of the path (one line, no control
        characters, reversible): a browser would turn a newline in it into CR LF."""
        path = os_path(req.field("path"))
        queue = self.daemon.queue
        done = bool(path) and "\x00" not in path and (
            self.daemon.ledger.retry_failed([path]) > 0)
        if done:
            queue.notify()
            log.info("re-queued %s (from the status page)", printable(path))
        return redirect("/?retried=1" if done else "/?retried=0")

    def _page(self, req: Request, sid: str | None) -> Response:
        status = self.ledger.status()
        links, thumbs = self._choices()
        recent = [page.Shown(i, links.row(i)["url"], thumbs.row(i)["url"])
                  for i in self.ledger.iter_items(state="uploaded", limit=page.RECENT)]
        failures = list(self.ledger.iter_items(state="failed", limit=page.FAILURES))
        flash = {"1": "Queued for another try.",
                 "0": "That file is not a failed one (any more)."}.get(req.arg("retried") or "")
        data = page.PageData(host=self.daemon.config.host, status=status,
                             folders=folder_states(self.daemon), recent=recent,
                             failures=failures, verdict=self.readiness.check(),
                             csrf=self.guard.csrf(sid), flash=flash,
                             signed_in=sid is not None, deliveries=self._deliveries(),
                             held=tuple(self.daemon.hold_problems()),
                             replicas=tuple((r.name, self.ledger.copy_status(r.name))
                                            for r in self.daemon.config.replicas),
                             uploads=self.desk is not None)
        return self._html(page.render(data))

    def _deliveries(self) -> tuple[Delivery, ...]:
        config = self.daemon.config
        cursors = {cursor_name(name, config.host) for name in config.endpoints}
        return tuple(d for d in self.ledger.deliveries() if d.endpoint in cursors)

    def _choices(self) -> tuple[UrlChoice, UrlChoice]:
        """URLs for the page's links and thumbnails, chosen as for the API (an OSS target
        gets resized thumbnails); the recorded URLs while none can be signed."""
        process = page.THUMBNAIL if self.daemon.config.oss is not None else None
        try:
            return api.url_choice(self.daemon), api.url_choice(self.daemon, process=process)
        except (HttpProblem, CredentialsUnavailable):
            return UrlChoice(), UrlChoice(process=process)
