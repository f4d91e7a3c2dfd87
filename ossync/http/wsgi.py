"""A request and a response as the handlers see them: plain values built from the WSGI
environ, so handlers never touch WSGI and tests can call them directly."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

MAX_FORM = 64 * 1024  # bytes of a POSTed form (the retry button sends well under 1 KiB)
MAX_FIELDS = 20

# Sent with every answer: nothing is cached, sniffed, framed, or sent to another site as
# a referrer (a signed thumbnail URL stays on the page).
COMMON_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),  # no-referrer would make a form's Origin "null"
    ("X-Frame-Options", "DENY"),
]


class HttpProblem(Exception):
    """An answer other than 2xx, with a one-line reason for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    client: str
    host: str | None
    authorization: str | None = field(default=None, repr=False)
    cookie: str | None = field(default=None, repr=False)
    origin: str | None = None
    accept: str | None = None
    form: dict[str, list[str]] = field(default_factory=dict, repr=False)
    body: bytes = field(default=b"", repr=False)  # a POST's body as sent (at most MAX_FORM)
    raw_query: str = ""  # the query string as sent (an OSS callback's signature covers it)
    pub_key_url: str | None = None  # `x-oss-pub-key-url` of an OSS upload callback
    csrf: str | None = field(default=None, repr=False)  # `X-CSRF-Token` (the upload page)

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        form: dict[str, list[str]] = {}
        body = b""
        if method == "POST":
            body = _body(environ)
            form = _form(environ, body)
        raw_query = str(environ.get("QUERY_STRING", ""))
        return cls(
            method=method, path=str(environ.get("PATH_INFO") or "/"),
            query=_parse(raw_query),
            client=str(environ.get("REMOTE_ADDR", "")), host=environ.get("HTTP_HOST"),
            authorization=environ.get("HTTP_AUTHORIZATION"), cookie=environ.get("HTTP_COOKIE"),
            origin=environ.get("HTTP_ORIGIN"), accept=environ.get("HTTP_ACCEPT"), form=form,
            body=body, raw_query=raw_query, pub_key_url=environ.get("HTTP_X_OSS_PUB_KEY_URL"),
            csrf=environ.get("HTTP_X_CSRF_TOKEN"))

    def arg(self, name: str) -> str | None:
        """One query parameter; given twice is a mistake, not a choice."""
        values = self.query.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise HttpProblem(400, f"{name} is given {len(values)} times")
        return values[0]

    def field(self, name: str) -> str:
        values = self.form.get(name) or [""]
        return values[0]


def _parse(text: str) -> dict[str, list[str]]:
    try:
        return parse_qs(text, keep_blank_values=False, max_num_fields=MAX_FIELDS,
                        strict_parsing=False, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise HttpProblem(400, "the query string cannot be read") from None


def _body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    if length > MAX_FORM:
        raise HttpProblem(413, "the body is too large")
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


def _form(environ: dict[str, Any], body: bytes) -> dict[str, list[str]]:
    kind = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    try:
        return _parse(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise HttpProblem(400, "the form is not UTF-8") from None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"

    def wsgi_headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", self.content_type),
                ("Content-Length", str(len(self.body))), *COMMON_HEADERS, *self.headers]


def json_response(data: Any, status: int = 200,
                  headers: tuple[tuple[str, str], ...] = ()) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=None).encode("utf-8") + b"\n"
    return Response(status, body, "application/json; charset=utf-8", headers)


def text_response(text: str, status: int = 200,
                  headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, text.encode("utf-8"), "text/plain; charset=utf-8", headers)


def redirect(location: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(303, b"", "text/plain; charset=utf-8", (("Location", location), *headers))
