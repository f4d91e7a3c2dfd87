"""The `http:` section: the daemon's optional listener for metrics, health, the URL API
and the status page. Off unless configured; loopback unless told otherwise, never on
another address without a bearer token, and — with `require_token: auto` — not open to
the other people who can log in to this host either.

A token is refused when others could read its file, or when it is easy to guess
(`token_bits`): a weak token is worse than none, since it looks like protection."""

from __future__ import annotations

import importlib.util
import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ossync.config.checks import duration_of, local_path, shown, shown_path, text
from ossync.config.private_files import read_private
from ossync.config.problems import Problems
from ossync.config.schema import spec

DEFAULT_LISTEN = "127.0.0.1:9469"
TOKEN_FILE = "http_token"  # in $CREDENTIALS_DIRECTORY (systemd LoadCredential=)
MIN_TOKEN = 16  # characters: a token an attacker could guess is no token
MIN_BITS = 80  # what token_bits must find in it
MAX_ESTIMATED = 256  # characters token_bits looks at (a longer token is long enough)
MAX_TOKEN_FILE = 4096  # bytes read: a token is one line
LIBRARIES = ("prometheus_client", "waitress")  # the `http` extra
MAKE_ONE = "e.g. the output of: openssl rand -hex 32"
PASSWD, GROUP, LOGIN_DEFS = Path("/etc/passwd"), Path("/etc/group"), Path("/etc/login.defs")
NO_LOGIN = frozenset({"nologin", "false", "sync", "halt", "shutdown"})
ADMIN_GROUPS = frozenset({"sudo", "wheel", "admin"})  # root in all but name


@dataclass(frozen=True)
class HttpConfig:
    host: str
    port: int
    token: str | None = field(default=None, repr=False)  # None: no bearer token set
    token_source: str | None = None  # where the token came from (a file path)
    ready_within: float = 300.0  # /readyz: the target must have answered this recently
    rate_limit: float = 20.0  # requests (and connections) per second per client
    rate_burst: int = 100
    session_lifetime: float = 8 * 3600.0  # a status page sign-in lasts this long
    client_connections: int = 16  # open connections one client may hold
    request_timeout: float = 10.0  # to send one whole request (headers and body)
    max_url_expires: float | None = None  # None: oss.url_expires
    allow_process: bool = True  # process= on /v1/files (checked against an allow-list)
    require_token: str = "auto"  # as configured: auto, always or never
    other_users: tuple[str, ...] = ()  # who made `auto` require the token

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def token_required(self) -> bool:
        """Must every caller but /healthz and /readyz show the token? Always off loopback."""
        if self.require_token == "always" or not self.loopback:
            return True
        return self.require_token == "auto" and bool(self.other_users)

    @property
    def locked(self) -> bool:
        """The token is required and none is configured: the guarded routes answer 401."""
        return self.token is None and self.token_required


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


def _alphabet(token: str) -> int:
    """The size of the smallest usual character set the token is written in."""
    if token.isascii() and token.isdigit():
        return 10
    if all(c in "0123456789abcdef" for c in token) or all(c in "0123456789ABCDEF"
                                                           for c in token):
        return 16
    if token.isascii() and token.isalpha():
        return 26 if token.islower() or token.isupper() else 52
    if token.isascii() and token.isalnum():
        return 36 if token.lower() == token or token.upper() == token else 62
    return 64 if all(c.isascii() and (c.isalnum() or c in "+/=-_") for c in token) else 94


def _fresh(token: str) -> list[str]:
    """The characters a guesser must really guess: not those that repeat an earlier
    stretch of three or more (`abcabc`, `aaaa`), nor those continuing a run (`abc`,
    `321`, and `aaa` again)."""
    fresh: list[str] = []
    i = 0
    while i < len(token):
        longest = 0
        for start in range(i):
            length = 0
            while i + length < len(token) and token[start + length] == token[i + length]:
                length += 1
            longest = max(longest, length)
        if longest >= 3:
            i += longest
            continue
        step = ord(token[i]) - ord(token[i - 1]) if i else None
        if not (i >= 2 and step in (-1, 0, 1) and ord(token[i - 1]) - ord(token[i - 2]) == step):
            fresh.append(token[i])
        i += 1
    return fresh


def token_bits(token: str) -> float:
    """A simple, cautious estimate of how hard `token` is to guess, in bits: each fresh
    character (`_fresh`) is worth log2 of the token's character set (10 digits, 16 hex
    digits, 26 or 52 letters, 36 or 62 letters and digits, 64 base64, else 94), but at
    most one bit more than log2 of the different characters it uses."""
    token = token[:MAX_ESTIMATED]
    worth = min(math.log2(_alphabet(token)), math.log2(len(set(token))) + 1)
    return worth * len(_fresh(token))


def _read_token(path: Path) -> str:
    token = read_private(path, MAX_TOKEN_FILE)
    if len(token) < MIN_TOKEN or any(c.isspace() for c in token):
        raise ValueError(f"{shown_path(path)}: the token must be at least {MIN_TOKEN} "
                         f"characters, without spaces ({MAKE_ONE})")
    if token_bits(token) < MIN_BITS:
        raise ValueError(f"{shown_path(path)}: the token is too easy to guess (repeats, "
                         f"runs or too few different characters); make a random one "
                         f"({MAKE_ONE})")
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


def _uid_range(login_defs: str) -> tuple[int, int]:
    """UID_MIN and UID_MAX of /etc/login.defs (1000 and 60000 when it does not say)."""
    found = {"UID_MIN": 1000, "UID_MAX": 60000}
    for line in login_defs.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in found and words[1].isascii() and \
                words[1].isdigit() and len(words[1]) <= 10:
            found[words[0]] = int(words[1])
    return found["UID_MIN"], found["UID_MAX"]


def login_users(passwd: str, group: str, login_defs: str, own_uid: int) -> tuple[str, ...]:
    """The people who can log in here besides ossync's own user: accounts of passwd with
    a uid from UID_MIN to UID_MAX and a shell other than nologin or false, not in group
    sudo, wheel or admin (who can become root anyway)."""
    low, high = _uid_range(login_defs)
    admins: set[str] = set()
    for line in group.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] in ADMIN_GROUPS:
            admins.update(name for name in fields[3].split(",") if name)
    found = []
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) < 7 or not (fields[2].isascii() and fields[2].isdigit()):
            continue
        uid, shell = int(fields[2][:10]), fields[6].strip().rsplit("/", 1)[-1]
        if low <= uid <= high and uid != own_uid and shell not in NO_LOGIN \
                and fields[0] not in admins:
            found.append(fields[0])
    return tuple(found)


def _read(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.read(1 << 22).decode("utf-8", "replace")
    except OSError:
        return ""


def other_login_users() -> tuple[str, ...]:
    """`login_users` of this host, for the user this process runs as."""
    return login_users(_read(PASSWD), _read(GROUP), _read(LOGIN_DEFS), os.geteuid())


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
    require = p.choice(raw, "http.", "require_token")
    max_expires = p.optional(raw, "http.", "max_url_expires",
                             duration_of(spec("http.max_url_expires")))
    return HttpConfig(
        host=host, port=port, token=token, token_source=source,
        ready_within=p.duration(raw, "http.", "ready_within"),
        rate_limit=p.number(raw, "http.", "rate_limit"),
        rate_burst=p.whole(raw, "http.", "rate_burst"),
        session_lifetime=p.duration(raw, "http.", "session_lifetime"),
        client_connections=p.whole(raw, "http.", "client_connections"),
        request_timeout=p.duration(raw, "http.", "request_timeout"),
        max_url_expires=max_expires, allow_process=p.flag(raw, "http.", "allow_process"),
        require_token=require,
        other_users=other_login_users() if require == "auto" and token is None else (),
    )
