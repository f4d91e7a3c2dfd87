"""Where the access key comes from: the config file, systemd credentials, or the environment.

Order: values in the config file (after `${VAR}` expansion), then files in
`$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`), then Alibaba's standard
environment variables. The id and the secret come from the same source.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ossync.core.credentials import Credentials

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


def _from_directory(directory: str) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name, filename in CREDENTIAL_FILES.items():
        try:
            values[name] = (Path(directory) / filename).read_text(encoding="utf-8").strip()
        except OSError:
            values[name] = None
    return values


def _complete(values: Mapping[str, str | None]) -> Credentials | None:
    if values.get("access_key_id") and values.get("access_key_secret"):
        return Credentials(
            str(values["access_key_id"]),
            str(values["access_key_secret"]),
            values.get("security_token") or None,
        )
    return None


def resolve_credentials(
    configured: Mapping[str, str | None], env: Mapping[str, str]
) -> Credentials | None:
    """The first complete id+secret pair among the sources, or None."""
    sources: list[Mapping[str, str | None]] = [configured]
    if env.get("CREDENTIALS_DIRECTORY"):
        from_dir = _from_directory(env["CREDENTIALS_DIRECTORY"])
        if not from_dir.get("access_key_id") and env.get("OSS_ACCESS_KEY_ID"):
            from_dir["access_key_id"] = env["OSS_ACCESS_KEY_ID"]  # only the secret is secret
        sources.append(from_dir)
    sources.append({name: env.get(var) for name, var in ENV_NAMES.items()})
    for values in sources:
        creds = _complete(values)
        if creds:
            return creds
    return None
