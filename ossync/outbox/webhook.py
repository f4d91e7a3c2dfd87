"""One webhook endpoint: each event POSTed as the Standard Webhooks spec has it.

The body is `{"type", "timestamp", "data"}` (the event's recorded time and data, the
same bytes on every attempt); `webhook-id` is the event's id (the same on every retry,
for the receiver to drop repeats), `webhook-timestamp` the attempt's time and
`webhook-signature` signs the three (`ossync.outbox.signing`). A 2xx answer means
taken; anything else — another status, a redirect (never followed), no answer within
`timeout` — is a failure the sender tries again. TLS is verified; one keep-alive
connection per endpoint; at most `MAX_ANSWER` bytes of an answer are read. The secret
is never logged or put in an error.
"""

from __future__ import annotations

import json
import threading
import time
from importlib import metadata

import requests
from requests.utils import get_environ_proxies

from ossync.config import WebhookConfig
from ossync.core.textforms import printable
from ossync.ledger.events import DELIVERY_GAVE_UP
from ossync.ledger.records import Event
from ossync.outbox.signing import key_of, signature

MAX_ANSWER = 64 * 1024  # bytes of an answer read; a longer one closes the connection
MAX_SHOWN = 200  # characters of a refusal's body kept as the error


def _version() -> str:
    try:
        return metadata.version("ossync")
    except metadata.PackageNotFoundError:
        return "0"


def body_of(event: Event) -> bytes:
    """The payload, built from the stored JSON text as it is (no second encoding)."""
    return (f'{{"type":{json.dumps(event.type)},"timestamp":{json.dumps(event.at)},'
            f'"data":{event.data}}}').encode()


def wanted(event: Event, name: str, types: tuple[str, ...] | None,
           folders: tuple[str, ...] | None) -> bool:
    """The endpoint's filters; never the news of its own giving up (it would not take
    that either, and each one told of would make another)."""
    if types is not None and event.type not in types:
        return False
    if folders is not None and event.folder is not None and event.folder not in folders:
        return False
    return not (event.type == DELIVERY_GAVE_UP.name
                and json.loads(event.data).get("endpoint") == name)


class Webhook:
    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.name = config.name
        self.cursor = config.name  # one per fleet: every host's events, once
        self._key = key_of(config.secret)
        self.session = requests.Session()
        self.session.trust_env = False  # no ~/.netrc credentials sent anywhere
        self.session.proxies.update(get_environ_proxies(config.url))
        self.session.headers.update({"User-Agent": f"ossync/{_version()}",
                                     "Content-Type": "application/json"})

    @property
    def timeout(self) -> float:
        return self.config.timeout

    def wants(self, event: Event) -> bool:
        return wanted(event, self.name, self.config.events, self.config.folders)

    def headers(self, event: Event, body: bytes, now: float | None = None) -> dict[str, str]:
        stamp = int(time.time() if now is None else now)
        return {"webhook-id": str(event.id), "webhook-timestamp": str(stamp),
                "webhook-signature": signature(self._key, str(event.id), stamp, body)}

    def deliver(self, event: Event, stop: threading.Event) -> str | None:
        """None when the receiver took it; else why not, in one line."""
        body = body_of(event)
        timeout = self.config.timeout
        try:
            with self.session.post(self.config.url, data=body,
                                   headers=self.headers(event, body), timeout=(timeout, timeout),
                                   allow_redirects=False, stream=True, verify=True) as answer:
                text = _read(answer)
                if 200 <= answer.status_code < 300:
                    return None
                return _refusal(answer, text)
        except requests.RequestException as exc:
            return printable(f"no answer: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        self.session.close()


def _read(answer: requests.Response) -> bytes:
    """Up to MAX_ANSWER bytes; a longer answer is not read further (its connection
    closes instead of going back to the pool)."""
    kept = bytearray()
    for chunk in answer.iter_content(8192):
        kept += chunk
        if len(kept) > MAX_ANSWER:
            answer.close()
            break
    return bytes(kept[:MAX_ANSWER])


def _refusal(answer: requests.Response, body: bytes) -> str:
    status = f"HTTP {answer.status_code} {answer.reason or ''}".strip()
    if answer.is_redirect or answer.is_permanent_redirect:
        where = answer.headers.get("Location", "")
        return printable(f"{status} to {where[:MAX_SHOWN]}: redirects are not followed; "
                         "give the final URL")
    text = body.decode("utf-8", "replace").strip()
    return printable(f"{status}: {text[:MAX_SHOWN]}" if text else status)
