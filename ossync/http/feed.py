"""`GET /v1/events`: the ledger's events for apps that would rather ask than be called.

`since=ID` (default 0) answers the events after that id, oldest first, up to `limit`
(1 to 1000, default 100), as `{"events": [...], "next": ID}`: ask again with
`since=next`. It reads the ledger, where ids only grow and become visible in order, so
a client that always passes `next` back never misses an event and never sees one twice,
across restarts of the daemon or of the client. `timeout=SECONDS` (0 to 60, default 0)
makes it a long poll: with nothing to answer, the request waits until an event is
recorded (the ledger's bell: it answers within milliseconds) or the time is up (then
`{"events": [], "next": since}`). At most `MAX_POLLS` wait at once, so the listener's
handler threads are never all taken; another one is answered 503 with `Retry-After`.
Values are read strictly (`ossync.http.query`).
"""

from __future__ import annotations

import threading
import time

import ossync.http.query as query
from ossync.http.wsgi import Request, Response, json_response
from ossync.ledger import Feed
from ossync.ledger.events import message

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_WAIT = 60  # seconds a long poll may ask for
MAX_ID = 2**63 - 1
MAX_POLLS = 2  # long polls waiting at once: the listener has four handler threads


def events(ledger: Feed, req: Request, stop: threading.Event,
           polls: threading.Semaphore) -> Response:
    since = query.whole(req, "since", 0, MAX_ID) or 0
    limit = query.whole(req, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    wait = query.whole(req, "timeout", 0, MAX_WAIT) or 0
    found = ledger.events_after(since, limit)
    if not found and wait and not stop.is_set():
        if not polls.acquire(blocking=False):
            return json_response({"error": f"{MAX_POLLS} long polls are waiting already; "
                                           "try again shortly"}, 503,
                                 (("Retry-After", "1"),))
        try:
            deadline = time.monotonic() + wait
            while not found and not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                found = ledger.next_events(since, limit, left, stop)
        finally:
            polls.release()
    return json_response({"events": [message(e) for e in found],
                          "next": found[-1].id if found else since})
