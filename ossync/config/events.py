"""What apps hear, configured: `webhooks:` (each endpoint, its secret and its filters),
`on_upload:` (a command, never given a shell) and the heartbeat URL.

A webhook secret is refused when others could read its file or when it is not in the
Standard Webhooks form (`whsec_` and the base64 of 24 to 64 bytes), with one line that
says what to do; like the HTTP token (ossync.config.http), it never appears in a
problem. URLs are http(s) without a user or password (they would be logged)."""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ossync.config.checks import choice_of, local_path, shown, shown_path, text
from ossync.config.http import is_loopback
from ossync.config.keys_events import EVENT_TYPES, PLACEHOLDERS
from ossync.config.private_files import read_private
from ossync.config.problems import Problems

SECRET_FILE = "webhook_secret"  # in $CREDENTIALS_DIRECTORY (systemd LoadCredential=)
SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)  # the spec's bounds on the key
MAX_SECRET_FILE = 4096
MAX_ARGS = 64
ON_UPLOAD = "on_upload"  # the command hook's name in the ledger and the metrics
MAKE_ONE = 'echo "whsec_$(openssl rand -base64 32)"'
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@dataclass(frozen=True)
class WebhookConfig:
    name: str
    url: str
    secret: str = field(repr=False)  # `whsec_…`
    secret_source: str = ""  # the file it came from
    events: tuple[str, ...] | None = None  # None: every type
    folders: tuple[str, ...] | None = None  # None: every folder
    timeout: float = 10.0
    retry_max_delay: float = 300.0
    max_age: float = 3 * 86400.0


@dataclass(frozen=True)
class CommandHookConfig:
    argv: tuple[str, ...]
    timeout: float = 60.0
    max_age: float = 3 * 86400.0  # as a webhook's default


@dataclass(frozen=True)
class HeartbeatConfig:
    url: str
    interval: float = 60.0


def cursor_name(endpoint: str, host: str) -> str:
    """An endpoint's cursor in the ledger: a webhook's name (one for a fleet: each event
    goes once), `on_upload@HOST` for the command hook (each host runs it for its own
    uploads)."""
    return f"{endpoint}@{host}" if endpoint == ON_UPLOAD else endpoint


def endpoint_url(value: Any) -> str:
    """An http(s) URL to send to, kept as written (a trailing slash matters to a server)."""
    written = text(value).strip()
    parts = urlsplit(written)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in written:
        raise ValueError(f"{shown(written)} is not an http(s) URL (e.g. "
                         "https://app.example.com/hooks/ossync)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("holds a user or password, which would be logged; give the "
                         "receiver the signing secret to check instead")
    if parts.fragment:
        raise ValueError(f"{shown(written)}: a #fragment is never sent to a server")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{shown(written)}: the port is not a number from 0 to 65535") \
            from None
    return written


def endpoint_name(value: Any) -> str:
    name = text(value)
    if not _NAME.match(name):
        raise ValueError("must be a name of letters, digits, '.', '_' and '-' (at most 64), "
                         "starting with a letter or digit")
    return name


def name_from_url(url: str) -> str:
    """`https://app.example.com:8443/hooks/ossync` → `app.example.com-8443-hooks-ossync`."""
    parts = urlsplit(url)
    raw = f"{parts.hostname}-{parts.port or ''}-{parts.path}"
    name = re.sub(r"[^A-Za-z0-9._]+", "-", raw).strip("-._")
    return (name or "webhook")[:64].rstrip("-._")


def read_secret(path: Path) -> str:
    """The secret of a file only the daemon's user may read, in the whsec_ form."""
    secret = read_private(path, MAX_SECRET_FILE)
    problem = (f"{shown_path(path)}: the secret must be whsec_ and the base64 of "
               f"{SECRET_BYTES[0]} to {SECRET_BYTES[1]} random bytes (make one with: "
               f"{MAKE_ONE})")
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(problem)
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(problem) from None
    if not SECRET_BYTES[0] <= len(key) <= SECRET_BYTES[1]:
        raise ValueError(problem)
    return secret


def _secret(raw: Mapping[str, Any], where: str, p: Problems, env: Mapping[str, str],
            base: Path) -> tuple[str, str]:
    """(secret, its file): `secret_file`, else `$CREDENTIALS_DIRECTORY/webhook_secret`."""
    path = p.optional(raw, where, "secret_file", lambda v: local_path(base, v))
    if raw.get("secret_file") is not None and path is None:
        return "", ""  # a problem already
    if path is None and env.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(env["CREDENTIALS_DIRECTORY"]) / SECRET_FILE
        path = candidate if candidate.exists() else None
    if path is None:
        p.errors.append(f"{where}secret_file: missing: name a file holding the signing "
                        f"secret (or give systemd credential {SECRET_FILE}); make one "
                        f"with: {MAKE_ONE}")
        return "", ""
    try:
        return read_secret(path), str(path)
    except ValueError as exc:
        p.errors.append(f"{where}secret_file: {exc}")
        return "", str(path)


def _list_of(convert: Any) -> Any:
    def read(value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ValueError(f"must be a list of names, not {shown(value)}")
        return tuple(dict.fromkeys(convert(item) for item in items))
    return read


def _webhook(raw: Any, i: int, p: Problems, env: Mapping[str, str], base: Path,
             labels: frozenset[str]) -> WebhookConfig | None:
    where = f"webhooks[{i}]."
    if not isinstance(raw, dict):
        p.errors.append(f"webhooks[{i}]: must be a mapping with at least a url, "
                        f"not {shown(raw)}")
        return None
    if raw.get("url") is None:
        p.errors.append(f"{where}url: missing (where the events are sent)")
        return None
    p.unknown(raw, "webhooks", where)
    url = p.get_or(raw, where, "url", endpoint_url, "")
    secret, source = _secret(raw, where, p, env, base)
    folders = p.optional(raw, where, "folders", _list_of(text))
    for label in sorted(set(folders or ()) - labels):
        p.warnings.append(f"{where}folders: {label!r} is not the label of a watch folder "
                          "here (events of other hosts' folders of that label still go)")
    host = urlsplit(url).hostname or ""
    if url.startswith("http://") and not is_loopback(host):
        p.warnings.append(f"{where}url: plain http: anyone on the way can read the events "
                          "(the signature still shows they are genuine); prefer https")
    return WebhookConfig(
        name=p.get_or(raw, where, "name", endpoint_name, name_from_url(url) if url else ""),
        url=url, secret=secret, secret_source=source,
        events=p.optional(raw, where, "events", _list_of(choice_of(*EVENT_TYPES))),
        folders=folders, timeout=p.duration(raw, where, "timeout"),
        retry_max_delay=p.duration(raw, where, "retry_max_delay"),
        max_age=p.duration(raw, where, "max_age"))


def parse_webhooks(raw: dict[Any, Any], p: Problems, env: Mapping[str, str], base: Path,
                   labels: frozenset[str]) -> tuple[WebhookConfig, ...]:
    entries = raw.get("webhooks") or []
    if not isinstance(entries, list):
        p.errors.append(f"webhooks: must be a list of endpoints (- url: ...), not "
                        f"{shown(entries)}")
        return ()
    hooks = [h for h in (_webhook(e, i, p, env, base, labels) for i, e in enumerate(entries))
             if h is not None]
    names = [h.name for h in hooks]
    for name in sorted({n for n in names if names.count(n) > 1}):
        p.errors.append(f"webhooks: the name {name!r} is used twice (set name: on each "
                        "webhook)")
    if ON_UPLOAD in names:
        p.errors.append(f"webhooks: the name {ON_UPLOAD} is the command hook's; choose "
                        "another")
    return tuple(hooks)


def argv_of(value: Any) -> tuple[str, ...]:
    """`on_upload`: a list of arguments, the first a program that exists (a path, or a
    name found on PATH), placeholders only those known."""
    if isinstance(value, str):
        raise ValueError("must be a list of arguments (e.g. [/usr/local/bin/photo-added, "
                         "\"{path}\"]): it is run without a shell, so a string is not split")
    if not isinstance(value, list) or not value or len(value) > MAX_ARGS:
        raise ValueError(f"must be a list of 1 to {MAX_ARGS} arguments, not {shown(value)}")
    argv = tuple(text(item) for item in value)
    for arg in argv:
        for match in _PLACEHOLDER.finditer(arg):
            if match.group(1) is not None and match.group(1) not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{match.group(1)}}} (known: "
                                 f"{', '.join('{' + n + '}' for n in PLACEHOLDERS)}; "
                                 "write {{ and }} for braces)")
    program = argv[0]
    found = program if "/" in program else shutil.which(program)
    if found is None or not (os.path.isfile(found) and os.access(found, os.X_OK)):
        raise ValueError(f"{shown(program)} is not a program this user can run (give its "
                         "absolute path)")
    return argv


def fill(argv: tuple[str, ...], values: Mapping[str, str]) -> list[str]:
    """The arguments with their placeholders replaced: each stays one argument, whatever
    the values hold (`$(touch x)`, `;`, spaces are just text: there is no shell)."""
    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values.get(match.group(1), "")
    return [_PLACEHOLDER.sub(one, arg) for arg in argv]


def parse_on_upload(raw: dict[Any, Any], p: Problems) -> CommandHookConfig | None:
    argv = p.optional(raw, "", "on_upload", argv_of)
    timeout = p.duration(raw, "", "on_upload_timeout")
    return None if argv is None else CommandHookConfig(argv, timeout)


def parse_heartbeat(raw: dict[Any, Any], p: Problems) -> HeartbeatConfig | None:
    url = p.optional(raw, "", "heartbeat_url", endpoint_url)
    interval = p.duration(raw, "", "heartbeat_interval")
    return None if url is None else HeartbeatConfig(url, interval)
