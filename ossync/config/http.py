"""The `http:` section: the daemon's optional listener for metrics, health, the URL API
and the status page. Off unless configured; loopback unless told otherwise, and never
on another address without a bearer token."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ossync.config.checks import local_path, shown, shown_path, text
from ossync.config.problems import Problems

DEFAULT_LISTEN = "127.0.0.1:9469"
TOKEN_FILE = "http_token"  # in $CREDENTIALS_DIRECTORY (systemd LoadCredential=)
MIN_TOKEN = 16  # characters: a token an attacker could guess is no token
MAX_TOKEN_FILE = 4096  # bytes read: a token is one line
LIBRARIES = ("prometheus_client", "waitress")  # the `http` extra


@dataclass(frozen=True)
class HttpConfig:
    host: str
    port: int
    token: str | None = field(default=None, repr=False)  # None: loopback only, no auth
    token_source: str | None = None  # where the token came from (a file path)
    ready_within: float = 300.0  # /readyz: the target must have answered this recently
    rate_limit: float = 20.0  # requests per second per client address (0: no limit)
    rate_burst: int = 100

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost: where it resolves may change


def parse_listen(value: Any) -> tuple[str, int]:
    """`127.0.0.1:9469`, `[::1]:9469`, `0.0.0.0:9469`, `localhost:9469` → (host, port)."""
    address = text(value).strip()
    host, sep, port = address.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or len(port) > 5 \
            or int(port) > 65535:
        raise ValueError(f"{shown(address)} is not HOST:PORT (e.g. 127.0.0.1:9469)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{shown(address)}: write an IPv6 address in brackets, "
                         "e.g. [::1]:9469")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{shown(address)}: the host must be an IP address or "
                             "localhost") from None
    return host, int(port)


def _read_token(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            token = fh.read(MAX_TOKEN_FILE).decode("utf-8", "replace").strip()
    except OSError as exc:
        raise ValueError(f"cannot read {shown_path(path)}: {exc.strerror or exc}") from None
    if len(token) < MIN_TOKEN or any(c.isspace() for c in token):
        raise ValueError(f"{shown_path(path)}: the token must be at least {MIN_TOKEN} characters, "
                         "without spaces (e.g. the output of: openssl rand -hex 32)")
    return token


def _token(raw: Mapping[str, Any], p: Problems, env: Mapping[str, str],
           base: Path) -> tuple[str | None, str | None]:
    """`http.token_file`, else `$CREDENTIALS_DIRECTORY/http_token` if it exists."""
    path = p.optional(raw, "http.", "token_file", lambda v: local_path(base, v))
    if raw.get("token_file") is not None and path is None:
        return None, "http.token_file"  # a problem already: no second one about the token
    if path is None and env.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(env["CREDENTIALS_DIRECTORY"]) / TOKEN_FILE
        path = candidate if candidate.exists() else None
    if path is None:
        return None, None
    try:
        return _read_token(path), str(path)
    except ValueError as exc:
        p.errors.append(f"http.token_file: {exc}")
        return None, str(path)


def parse_http(raw: Any, p: Problems, env: Mapping[str, str] | None,
               base: Path) -> HttpConfig | None:
    """None when the section is absent (the listener is off)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        p.errors.append("http: must be a mapping (e.g. http: {listen: 127.0.0.1:9469}), "
                        f"not {shown(raw)}")
        return None
    env = os.environ if env is None else env
    p.unknown(raw, "http", "http.")
    missing = [name for name in LIBRARIES if importlib.util.find_spec(name) is None]
    if missing:
        p.errors.append(f"http: needs {' and '.join(missing)}, which come with the http "
                        "extra: pip install 'ossync[http]'")
    host, port = p.get(raw, "http.", "listen", parse_listen)
    token, source = _token(raw, p, env, base)
    if token is None and source is None and not is_loopback(host):
        p.errors.append(f"http.listen: {host} is not a loopback address, and the API would "
                        "answer anyone: set http.token_file (or give systemd credential "
                        f"{TOKEN_FILE}), or listen on 127.0.0.1")
    return HttpConfig(
        host=host, port=port, token=token, token_source=source,
        ready_within=p.duration(raw, "http.", "ready_within"),
        rate_limit=p.number(raw, "http.", "rate_limit"),
        rate_burst=p.whole(raw, "http.", "rate_burst"),
    )
