"""The upload page (`GET /upload`, with `uploads:`): staff on the LAN, or an app's web
view, pick or drop photos and each goes straight to the bucket, with "uploaded i/n"
and a retry for a failed one. The widget is Uppy (vendored under `static/uppy/`, see
its README); the page's own script is `static/upload.js`. It asks for forms with the
page's session and CSRF token, so no key and no token is ever in the page.

Its Content-Security-Policy lets scripts come from this listener only and lets the
page talk to this listener and the bucket's origin only.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from urllib.parse import urlsplit

from ossync.config import UploadsConfig
from ossync.http.page import esc, head, size_text

STATIC = {  # path → (file under ossync/http/static, content type)
    "/static/uppy/uppy.min.js": ("uppy/uppy.min.js", "text/javascript; charset=utf-8"),
    "/static/uppy/uppy.min.css": ("uppy/uppy.min.css", "text/css; charset=utf-8"),
    "/static/upload.js": ("upload.js", "text/javascript; charset=utf-8"),
}


@cache
def static_file(path: str) -> bytes:
    name = STATIC[path][0]
    return files("ossync.http").joinpath("static").joinpath(name).read_bytes()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def csp(bucket_url: str) -> str:
    return ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' blob: data:; connect-src 'self' {origin(bucket_url)}; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def render(host: str, config: UploadsConfig, csrf: str) -> str:
    types = ",".join(config.types)
    return (head(f"ossync · upload · {host}",
                 extra='<link rel="stylesheet" href="/static/uppy/uppy.min.css">',
                 refresh=False)
            + '<body><header><h1>ossync <span class="host">' + esc(host) + "</span></h1>"
            '<a href="/">Status</a></header><main><h2>Upload photos</h2>'
            f'<div id="uploader" data-csrf="{esc(csrf)}" data-types="{esc(types)}" '
            f'data-max-size="{config.max_file_size}" '
            f'data-max-size-text="{esc(size_text(config.max_file_size))}"></div>'
            '<p id="progress" class="meta" role="status" aria-live="polite"></p>'
            '<ul id="uploaded" class="meta"></ul>'
            '<script src="/static/uppy/uppy.min.js"></script>'
            '<script src="/static/upload.js"></script></main></body></html>\n')
