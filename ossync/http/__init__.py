"""The daemon seen from outside: one optional HTTP listener (`http:` in the config) with
Prometheus metrics, liveness and readiness, a URL API for apps on other hosts, and a
status page.

`meter` counts what the daemon's threads do (`MeteredQueue` wraps its queue),
`collect` reads the gauges at scrape time, `ready` decides /readyz, `guard` the token,
Host and CSRF checks, `sessions` the status page's sign-ins, `limits` who a client is
and its rate limit, `api` the `/v1/files` API (`query` reads its values strictly,
`process` is the allow-list of image processing), `direct` apps' direct uploads
(`upload_forms`, `upload_callback`, `landing`), `page` the status page, `app` the
routes, `server` runs them (waitress, bounded threads) and `conns` admits and times
each connection, so slow clients cannot take the listener. `view.DaemonView` is what
it reads of the daemon: this package never imports `ossync.service` or `ossync.cli`.
"""

from ossync.http.meter import Meter, MeteredQueue
from ossync.http.server import HttpService

__all__ = ["HttpService", "Meter", "MeteredQueue"]
