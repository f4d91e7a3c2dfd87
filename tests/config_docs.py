"""The smallest config document that loads, for each target: the base every config test
changes one key of."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def base_doc(folder: Path, target: str = "oss") -> dict[str, Any]:
    """A watch folder under `folder` and one target section (`oss`, `s3`, `local`; `http`
    is `oss` with an empty `http:` listener, `webhooks` `oss` with one webhook,
    `replicas` `oss` with one replica, a local folder, `uploads` `oss` with an open
    loopback listener and an empty `uploads:`)."""
    drop = folder / "drop"
    drop.mkdir(exist_ok=True)
    doc: dict[str, Any] = {"ledger": "ledger.db",
                           "watch": [{"path": str(drop), "label": "drop"}]}
    if target == "s3":
        doc["s3"] = {"endpoint": "https://s3.eu-west-1.amazonaws.com", "bucket": "my-bucket"}
    elif target == "local":
        (folder / "store").mkdir(exist_ok=True)
        doc["local"] = {"path": str(folder / "store")}
    else:
        doc["oss"] = {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "bucket": "my-bucket"}
    if target == "http":
        doc["http"] = {}
    if target == "replicas":
        (folder / "nas").mkdir(exist_ok=True)
        doc["replicas"] = [{"name": "nas", "local": {"path": str(folder / "nas")}}]
    if target == "uploads":
        doc["http"] = {"require_token": "never"}
        doc["uploads"] = {}
    if target == "webhooks":
        secret = folder / "webhook_secret"
        secret.write_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        secret.chmod(0o600)
        doc["webhooks"] = [{"url": "https://app.example.com/h", "secret_file": str(secret)}]
    return doc
