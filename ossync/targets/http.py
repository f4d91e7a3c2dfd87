"""What every HTTP object-store target shares: one keep-alive session for all worker
threads, timeouts, the base of object URLs, a clock corrected from the server's, and
the keys it signs with.

Keys come from a `CredentialSupply`: each request is signed with one complete triple
read from it, and a request the store refuses for its keys (an expired STS token, a
key id it no longer knows, as right after a rotation) is signed again and sent once
more when the supply has fresh keys (`ossync.core.retry.FRESH_KEYS`). Forms never
outlive the keys they carry.

The environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE,
CURL_CA_BUNDLE) is read once, when the target is made: every request goes to one host,
so the answer is the same for each, and requests' own per-request look-up (the
environment, netrc files on disk, settings merges) cost more CPU than a small upload's
hashing. A netrc entry is never used: every request carries its own signature, which a
netrc password would have replaced.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast
from urllib.parse import SplitResult, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies, select_proxy

from ossync.core.addressing import object_url
from ossync.core.credentials import (
    Credentials,
    CredentialSupply,
    signing_lifetime,
    supply_of,
)
from ossync.core.errors import StoreError
from ossync.core.retry import FRESH_KEYS
from ossync.core.throttle import Throttle
from ossync.targets.connections import HeadConnections
from ossync.targets.form_body import MultipartFileBody

USER_AGENT = "ossync"
SEND_BLOCK = 256 * 1024  # bytes of a request body handed to the socket per write
# Refusals that mean "these keys", not "this request": worth fresh keys and one retry.
REFUSED_KEYS = frozenset({"SecurityTokenExpired", "InvalidAccessKeyId", "InvalidSecurityToken",
                          "ExpiredToken", "InvalidToken", "TokenRefreshRequired"})
_T = TypeVar("_T")


def server_offset(resp: requests.Response) -> timedelta | None:
    """The server's clock minus ours, from its Date header; None if it says nothing."""
    date = resp.headers.get("Date", "")
    if date.count(",") > 1:  # two Date headers joined by requests: take the last
        date = date.split(",", 2)[-1]
    try:
        server = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None
    if server.tzinfo is None:  # "-0000" and odd forms parse naive: they mean UTC
        server = server.replace(tzinfo=timezone.utc)
    return server - datetime.now(timezone.utc)


def environment_settings(url: str) -> tuple[dict[str, str], bool | str]:
    """The proxies and the TLS trust requests would take from the environment for a
    request to `url` (NO_PROXY honoured): the proxies by scheme, and True or a CA bundle."""
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return get_environ_proxies(url), verify


class _Adapter(HTTPAdapter):
    """Request bodies go out in 256 KiB blocks, not urllib3's 16 KiB: a big file costs a
    sixteenth of the reads, hash updates and throttle checks (CPU per GB sent)."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, blocksize=SEND_BLOCK,
                                 **pool_kwargs)


class HttpTarget:
    def __init__(self, *, base_url: str, public_url: str | None, policy_lifetime: float,
                 connect_timeout: float, read_timeout: float, pool_size: int,
                 credentials: Credentials | CredentialSupply,
                 throttle: Throttle | None = None) -> None:
        self.supply = supply_of(credentials)
        self.throttle = throttle  # max_bandwidth, shared with every other sender
        self.base_url = base_url
        self.public_base = (public_url or base_url).rstrip("/")
        self.policy_lifetime = timedelta(seconds=policy_lifetime)
        self.timeout = (connect_timeout, read_timeout)
        self.clock_offset = timedelta(0)  # learnt from the server when our clock is off
        self._lock = threading.Lock()
        self.session = requests.Session()
        adapter = _Adapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.trust_env = False  # read once here, not again for every request
        self.session.proxies, self.session.verify = environment_settings(base_url)
        self._form_url = requests.Request("POST", base_url + "/").prepare().url
        self._adapter = adapter
        self._probe = requests.Request("HEAD", base_url + "/").prepare()
        # The proxies and CA bundle read above, as `head`'s short way needs them.
        self._env = self.session.merge_environment_settings(self._probe.url, {}, None, None,
                                                            None)
        self._head_connections = HeadConnections()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.clock_offset

    @property
    def credentials(self) -> Credentials:
        """The keys the next request is signed with (CredentialsUnavailable if none)."""
        return self.supply.current()

    def form_lifetime(self, creds: Credentials, now: datetime) -> timedelta:
        """The policy lifetime, cut so that the form expires no later than its keys."""
        return signing_lifetime(creds, now, self.policy_lifetime)

    def with_keys(self, send: Callable[[Credentials], _T]) -> _T:
        """`send(keys)`; if the store refuses the keys themselves, again with fresh ones
        as `FRESH_KEYS` says (once, at once). When no fresh ones come and the keys
        rotate, the refusal is retryable: the file waits for the next refresh instead of
        failing."""
        failures = 0
        while True:
            creds = self.supply.current()
            try:
                return send(creds)
            except StoreError as err:
                failures += 1
                if not (self._refused_keys(err) and FRESH_KEYS.again(failures)):
                    raise
                if not self.supply.renew(creds):
                    if err.code in REFUSED_KEYS and self.supply.rotates and not err.retryable:
                        raise dataclasses.replace(err, retryable=True, hint=(
                            "the store refused keys from a rotating source; retrying once "
                            "they are refreshed")) from None
                    raise

    def _refused_keys(self, err: StoreError) -> bool:
        """The store refused the keys, not the request. A HEAD answer has no body to name
        the cause: with keys that rotate, a bare 400/403 may be an expired token too."""
        return err.code in REFUSED_KEYS or (self.supply.rotates and err.operation == "head"
                                            and err.http_status in (400, 403))

    def post_form(self, body: MultipartFileBody) -> requests.Response:
        """`session.post(bucket URL, data=body)`, less what requests redoes for every
        request though it is the same for every form: parsing the URL, merging the
        session's settings (each merge a slow runtime Protocol check), the proxies. The
        request sent is the same: the session's headers, then the form's, its cookies."""
        prep = requests.PreparedRequest()
        prep.method, prep.url, prep.hooks = "POST", self._form_url, default_hooks()
        prep.body = body  # type: ignore[assignment]  # requests streams a file-like body
        prep.headers = CaseInsensitiveDict(cast(Mapping[str, str], self.session.headers))
        prep.headers["Content-Type"] = body.content_type
        if self.session.cookies:
            prep.prepare_cookies(self.session.cookies)
        prep.headers["Content-Length"] = str(len(body))
        return self.session.send(prep, timeout=self.timeout, allow_redirects=False,
                                 stream=False, verify=self.session.verify,
                                 cert=self.session.cert, proxies=self.session.proxies)

    def url_for(self, key: str) -> str:
        return object_url(self.public_base, key)

    def head_request(self, url: str, headers: dict[str, str]) -> requests.Response:
        """A HEAD (no body either way) on a keep-alive connection of the calling thread's
        own, past requests' and urllib3's per-request work (about 0.5 ms of CPU a
        request, which a rebuild of a million objects pays a million times). The CA
        bundle is the session's; through a proxy, or with a client certificate, it is an
        ordinary request. Network trouble raises requests' ConnectionError, as a request
        would; a kept connection the server closed meanwhile is opened again, once."""
        parts = urlsplit(url)
        if self._env["cert"] or select_proxy(url, self._env["proxies"]):
            return self.session.request("HEAD", url, headers=headers, timeout=self.timeout,
                                        allow_redirects=False)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        sent = {"User-Agent": USER_AGENT, **headers}
        for fresh in (False, True):
            conn, reused = self._head_connection(parts, fresh)
            try:
                conn.request("HEAD", target, headers=sent)
                raw = conn.getresponse()
                raw.read()
            except (OSError, http.client.HTTPException) as exc:
                self._head_connections.drop(conn)
                if reused and not fresh and isinstance(exc, (
                        http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
                    continue
                raise requests.ConnectionError(exc) from exc
            if raw.will_close:
                self._head_connections.drop(conn)
            break
        resp = requests.Response()
        resp.status_code, resp.reason, resp.url = raw.status, raw.reason or "", url
        resp.headers = CaseInsensitiveDict(raw.getheaders())
        resp._content = b""
        return resp

    def _head_connection(self, parts: SplitResult, fresh: bool
                         ) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to the store (a new one when `fresh`), and whether it
        carried a request before."""
        return self._head_connections.get(parts, fresh, self.timeout, self._env["verify"])

    def close(self) -> None:
        self.session.close()
        self._head_connections.close()

    def learn_clock(self, resp: requests.Response,
                     min_change: timedelta = timedelta(0)) -> bool:
        """Take the server's clock from its Date header; False if it says nothing or is
        within `min_change` of what we already use."""
        offset = server_offset(resp)
        with self._lock:
            if offset is None or (min_change and abs(offset - self.clock_offset) <= min_change):
                return False
            self.clock_offset = offset
        return True
