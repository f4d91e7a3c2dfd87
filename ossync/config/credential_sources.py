"""Where the access key comes from: the sources, their order, and the config keys that
name them (for `oss:`, and with AWS names for `s3:`).

In order; the first one configured is used, and `credential_source:` pins one:

1. `config`: `access_key_id` / `access_key_secret` / `security_token` in the file (`${VAR}`)
2. `credentials_directory`: files `oss_access_key_id`, `oss_access_key_secret`,
   `oss_session_token` in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`)
3. `environment`: `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET`, `OSS_SESSION_TOKEN`
4. `credentials_file`: a JSON document that another program rewrites (re-read on change)
5. `credential_process`: a command that prints such a document
6. `ecs_ram_role` (oss) / `instance_metadata` (s3): the instance's role from the
   metadata service, when `ecs_ram_role:` / `instance_role:` is set (a role name, or
   `auto`) or `$ALIBABA_CLOUD_ECS_METADATA` names the role

The first three are fixed keys, read once; the others rotate (`ossync.credentials`).
The id and the secret always come from the same source.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ossync.config.checks import MAX_TEXT, local_path, path_text, shown_path, text, url
from ossync.config.problems import Problems
from ossync.core.credentials import Credentials
from ossync.credentials import (
    EC2,
    ECS,
    FileSource,
    MetadataSource,
    ProcessSource,
    Source,
    StaticSource,
)
from ossync.credentials.metadata import Flavour

ENV_NAMES = {
    "access_key_id": "OSS_ACCESS_KEY_ID",
    "access_key_secret": "OSS_ACCESS_KEY_SECRET",
    "security_token": "OSS_SESSION_TOKEN",
}
CREDENTIAL_FILES = {
    "access_key_id": "oss_access_key_id",
    "access_key_secret": "oss_access_key_secret",
    "security_token": "oss_session_token",
}
SOURCE_KEYS = ("credential_source", "credentials_file", "credential_process", "metadata_url")


@dataclass(frozen=True)
class Dialect:
    """The names one target section uses: config keys, variables, credential files."""

    section: str
    keys: tuple[str, str, str]  # id, secret, token in the config file
    env: tuple[str, str, str]
    files: tuple[str, str, str]  # in $CREDENTIALS_DIRECTORY
    flavour: Flavour
    role_key: str
    role_env: str | None  # a variable that names the instance role
    token_only_env: str  # a variable that forbids metadata requests without a token

    @property
    def order(self) -> tuple[str, ...]:
        return ("config", "credentials_directory", "environment", "credentials_file",
                "credential_process", self.flavour.name)

    @property
    def known_keys(self) -> set[str]:
        return {*self.keys, *SOURCE_KEYS, self.role_key}


OSS = Dialect("oss", ("access_key_id", "access_key_secret", "security_token"),
              ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"),
              ("oss_access_key_id", "oss_access_key_secret", "oss_session_token"), ECS,
              "ecs_ram_role", "ALIBABA_CLOUD_ECS_METADATA", "ALIBABA_CLOUD_IMDSV1_DISABLED")
S3 = Dialect("s3", ("access_key_id", "secret_access_key", "session_token"),
             ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
             ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"), EC2,
             "instance_role", None, "AWS_EC2_METADATA_V1_DISABLED")


def _complete(values: tuple[str | None, str | None, str | None]) -> Credentials | None:
    key_id, secret, token = values
    return Credentials(key_id, secret, token or None) if key_id and secret else None


def _read_secret(path: Path) -> str | None:
    """A systemd credential file; at most 64 KiB are read (a key is a few dozen bytes)."""
    try:
        with path.open("rb") as fh:
            return fh.read(64 * 1024).decode("utf-8", "replace").strip() or None
    except OSError:
        return None


def _fixed(configured: tuple[str | None, str | None, str | None], env: Mapping[str, str],
           d: Dialect) -> dict[str, Source | None]:
    found: dict[str, Source | None] = {}
    creds = _complete(configured)
    found["config"] = StaticSource(creds, "config") if creds else None
    creds = None
    if env.get("CREDENTIALS_DIRECTORY"):
        folder = Path(env["CREDENTIALS_DIRECTORY"])
        key_id, secret, token = (_read_secret(folder / name) for name in d.files)
        creds = _complete((key_id or env.get(d.env[0]), secret, token))  # only the secret
    found["credentials_directory"] = (  # is secret: the id may sit in the environment
        StaticSource(creds, "credentials_directory") if creds else None)
    creds = _complete((env.get(d.env[0]), env.get(d.env[1]), env.get(d.env[2])))
    found["environment"] = StaticSource(creds, "environment") if creds else None
    return found


def _command(value: Any) -> str:
    command = path_text(value)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"cannot split the command: {exc}") from None
    if not argv:
        raise ValueError("must be a command, e.g. /usr/local/bin/get-oss-creds")
    program = argv[0]
    if os.sep in program:
        if not (os.path.isfile(program) and os.access(program, os.X_OK)):
            raise ValueError(f"{shown_path(program)} is not an executable file")
    elif shutil.which(program) is None:
        raise ValueError(f"{shown_path(program)} is not found in PATH (give its full path)")
    return command


def _role(value: Any) -> str | None:
    """A role name, `auto` (or true): ask the metadata service; false: not used."""
    if value is True:
        return "auto"
    if value is False:
        return None
    if not isinstance(value, str) or not value.strip() or "/" in value or \
            len(value) > MAX_TEXT or not value.isprintable():
        raise ValueError("must be auto or the name of the instance's role")
    return value.strip()


def _rotating(raw: Mapping[str, Any], p: Problems, env: Mapping[str, str], base: Path,
              d: Dialect, pinned: str) -> dict[str, Source | None]:
    prefix = f"{d.section}."
    found: dict[str, Source | None] = {}
    path = p.optional(raw, prefix, "credentials_file", lambda v: local_path(base, v))
    found["credentials_file"] = FileSource(path) if path else None
    command = p.optional(raw, prefix, "credential_process", _command)
    found["credential_process"] = ProcessSource(command) if command else None
    role = p.optional(raw, prefix, d.role_key, _role)
    if raw.get(d.role_key) is None and d.role_env:
        role = env.get(d.role_env)  # e.g. $ALIBABA_CLOUD_ECS_METADATA names the role
    base_url = p.get(raw, prefix, "metadata_url", url)
    strict = env.get(d.token_only_env, "").lower() == "true"
    wanted = role is not None or pinned == d.flavour.name
    found[d.flavour.name] = MetadataSource(
        flavour=d.flavour, base_url=base_url, role=None if role in (None, "", "auto") else role,
        token_required=strict) if wanted else None
    return found


def choose_source(raw: Mapping[str, Any], p: Problems, env: Mapping[str, str], base: Path,
                  d: Dialect) -> Source | None:
    """The source this section's credentials come from; problems and warnings go to `p`."""
    prefix = f"{d.section}."
    pinned = p.choice(raw, prefix, "credential_source")
    key_id, secret, token = (p.optional(raw, prefix, key, text) for key in d.keys)
    found = {**_fixed((key_id, secret, token), env, d),
             **_rotating(raw, p, env, base, d, pinned)}
    if pinned != "auto":
        source = found[pinned]
        if source is None:
            p.errors.append(f"{prefix}credential_source: {pinned} is chosen, but "
                            f"{_missing(pinned, d)}")
        return source
    chosen = next((found[name] for name in d.order if found[name] is not None), None)
    if chosen is None:
        return None
    for name in d.order[d.order.index(chosen.kind) + 1:]:
        if found[name] is not None and name not in ("config", "credentials_directory",
                                                    "environment"):
            p.warnings.append(f"{prefix}{_key_of(name, d)}: not used, the credentials come "
                              f"from the {chosen.describe()} first (set {prefix}"
                              f"credential_source: {name} to use it)")
    return chosen


def _key_of(name: str, d: Dialect) -> str:
    return d.role_key if name == d.flavour.name else name


def _missing(name: str, d: Dialect) -> str:
    prefix = f"{d.section}."
    return {
        "config": f"{prefix}{d.keys[0]} and {prefix}{d.keys[1]} are not both set",
        "credentials_directory": f"$CREDENTIALS_DIRECTORY has no {d.files[0]} and "
                                 f"{d.files[1]}",
        "environment": f"{d.env[0]} and {d.env[1]} are not both set",
        "credentials_file": f"{prefix}credentials_file is not set",
        "credential_process": f"{prefix}credential_process is not set",
    }.get(name, "it is not configured")


def no_credentials_problem(d: Dialect) -> str:
    prefix = f"{d.section}."
    return (f"{d.section} credentials: none found; set {d.env[0]} and {d.env[1]} (and "
            f"{d.env[2]} for temporary keys), or {prefix}{d.keys[0]} / {prefix}{d.keys[1]}, "
            f"or files {d.files[0]} / {d.files[1]} in $CREDENTIALS_DIRECTORY, or a source "
            f"that rotates: {prefix}credentials_file, {prefix}credential_process or "
            f"{prefix}{d.role_key} (docs/oss.md: Credentials)")
