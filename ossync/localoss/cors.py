"""A bucket's CORS rules, kept and applied the way OSS does, so a browser page on another
origin can POST a form straight to the bucket only when a rule lets it.

`PutBucketCors` (`PUT /bucket/?cors`, header-signed) sets the rules, `GetBucketCors`
reads them, `DeleteBucketCors` removes them; they survive restarts (`cors.json` beside
the bucket's objects). A preflight (`OPTIONS` with `Origin` and
`Access-Control-Request-Method`) is answered from the first rule that allows the
origin, the method and every requested header, and refused (`403 AccessForbidden`)
otherwise; an actual request from an allowed origin gets `Access-Control-Allow-Origin`
and the rule's `Access-Control-Expose-Headers` (a browser lets a page read `ETag` only
then), and one from any other origin gets no CORS header at all, so the browser keeps
the answer from the page.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.etree import ElementTree

from ossync.localoss.disk import write_atomic
from ossync.localoss.responses import OSSError, Reply, document, element, invalid_argument

METHODS = ("GET", "PUT", "DELETE", "POST", "HEAD")
MAX_RULES = 10
MAX_BODY = 64 * 1024
CONFIG = "cors.json"


@dataclass(frozen=True)
class CorsRule:
    origins: tuple[str, ...]  # each with at most one `*`
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()  # request headers a preflight may name (`*` wildcards)
    expose: tuple[str, ...] = ()  # response headers the page may read
    max_age: int | None = None

    def allows(self, origin: str, method: str) -> bool:
        return method in self.methods and any(_fits(p, origin) for p in self.origins)

    def allows_headers(self, names: list[str]) -> bool:
        return all(any(_fits(p.lower(), n) for p in self.headers) for n in names)


def _fits(pattern: str, value: str) -> bool:
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and \
        value.endswith(tail)


def forbidden(message: str) -> OSSError:
    return OSSError(403, "AccessForbidden", f"CORSResponse: {message}")


class BucketCors:
    """One bucket's rules (none until PutBucketCors), guarded by a lock."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / CONFIG
        self._lock = threading.Lock()
        self.rules: tuple[CorsRule, ...] | None = self._load()

    def _load(self) -> tuple[CorsRule, ...] | None:
        try:
            doc = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return tuple(CorsRule(tuple(r["origins"]), tuple(r["methods"]), tuple(r["headers"]),
                              tuple(r["expose"]), r["max_age"]) for r in doc)

    def put(self, rules: tuple[CorsRule, ...]) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps([asdict(r) for r in rules]).encode())
            self.rules = rules

    def delete(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)
            self.rules = None

    def match(self, origin: str, method: str) -> CorsRule | None:
        return next((r for r in self.rules or () if r.allows(origin, method)), None)

    # --- answers ---------------------------------------------------------------

    def preflight(self, headers: Mapping[str, str]) -> Reply:
        """`OPTIONS`: the allowing rule's answer, or 403 AccessForbidden."""
        origin = headers.get("origin")
        method = headers.get("access-control-request-method")
        if not origin or not method:
            raise invalid_argument("A CORS preflight needs Origin and "
                                   "Access-Control-Request-Method.")
        if self.rules is None:
            raise forbidden("CORS is not enabled for this bucket.")
        asked = [h.strip().lower() for h in
                 headers.get("access-control-request-headers", "").split(",") if h.strip()]
        for rule in self.rules:
            if rule.allows(origin, method) and rule.allows_headers(asked):
                out = {"Access-Control-Allow-Origin": _allowed_origin(rule, origin),
                       "Access-Control-Allow-Methods": ", ".join(rule.methods),
                       "Vary": "Origin, Access-Control-Request-Method, "
                               "Access-Control-Request-Headers"}
                if asked:
                    out["Access-Control-Allow-Headers"] = ", ".join(asked)
                if rule.expose:
                    out["Access-Control-Expose-Headers"] = ", ".join(rule.expose)
                if rule.max_age is not None:
                    out["Access-Control-Max-Age"] = str(rule.max_age)
                return Reply(200, out)
        raise forbidden("This CORS request is not allowed. The Origin, the request method "
                        "or the request headers are not allowed by the bucket's CORS rules.")

    def decorate(self, headers: Mapping[str, str], method: str) -> dict[str, str]:
        """The CORS headers of an actual request's answer (none for another origin)."""
        origin = headers.get("origin")
        rule = self.match(origin, method) if origin else None
        if rule is None or origin is None:
            return {}
        out = {"Access-Control-Allow-Origin": _allowed_origin(rule, origin), "Vary": "Origin"}
        if rule.expose:
            out["Access-Control-Expose-Headers"] = ", ".join(rule.expose)
        return out

    def get_document(self) -> Reply:
        if self.rules is None:
            raise OSSError(404, "NoSuchCORSConfiguration", "The CORS configuration does not "
                           "exist.")
        rules = []
        for r in self.rules:
            parts = [element("AllowedOrigin", o) for o in r.origins]
            parts += [element("AllowedMethod", m) for m in r.methods]
            parts += [element("AllowedHeader", h) for h in r.headers]
            parts += [element("ExposeHeader", h) for h in r.expose]
            if r.max_age is not None:
                parts.append(element("MaxAgeSeconds", str(r.max_age)))
            rules.append("<CORSRule>" + "".join(parts) + "</CORSRule>")
        return Reply(200, {"Content-Type": "application/xml"},
                     document("CORSConfiguration", rules))


def _allowed_origin(rule: CorsRule, origin: str) -> str:
    return "*" if "*" in rule.origins else origin


def parse_rules(body: bytes) -> tuple[CorsRule, ...]:
    """A PutBucketCors body, checked as OSS checks it."""
    if len(body) > MAX_BODY:
        raise OSSError(400, "EntityTooLarge", "The CORS configuration is too large.")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise OSSError(400, "MalformedXML", "The XML you provided was not well-formed.") \
            from None
    if _local(root.tag) != "CORSConfiguration":
        raise OSSError(400, "MalformedXML", "The root element must be CORSConfiguration.")
    rules = tuple(_rule(node) for node in root if _local(node.tag) == "CORSRule")
    if not rules or len(rules) > MAX_RULES:
        raise invalid_argument(f"A CORS configuration holds 1 to {MAX_RULES} rules.")
    return rules


def _rule(node: ElementTree.Element) -> CorsRule:
    def texts(tag: str) -> tuple[str, ...]:
        return tuple((c.text or "").strip() for c in node if _local(c.tag) == tag)

    origins, methods = texts("AllowedOrigin"), texts("AllowedMethod")
    headers, expose, age = texts("AllowedHeader"), texts("ExposeHeader"), texts("MaxAgeSeconds")
    if not origins or not methods:
        raise invalid_argument("Each CORSRule needs an AllowedOrigin and an AllowedMethod.")
    for method in methods:
        if method not in METHODS:
            raise invalid_argument(f"Unsupported method is {method}.", "AllowedMethod", method)
    for value in (*origins, *headers):
        if value.count("*") > 1:
            raise invalid_argument("An AllowedOrigin or AllowedHeader holds one * at most.")
    if any("*" in h for h in expose):
        raise invalid_argument("An ExposeHeader cannot hold *.", "ExposeHeader")
    if len(age) > 1 or (age and not age[0].isdigit()):
        raise invalid_argument("MaxAgeSeconds must be a whole number.", "MaxAgeSeconds")
    return CorsRule(origins, methods, headers, expose, int(age[0]) if age else None)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
