"""What a signed form POST may write, and the policy primitives OSS and S3 share.

Both stores sign a base64 JSON policy, and both derive signing keys by an HMAC
chain; the parts that differ live in `oss.signing` and `s3.signing`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PostUpload:
    """What one signed form POST may write: exactly this key, exactly this size, and
    exactly these extra fields (the object's options, its metadata), each sent and
    pinned in the policy by an exact condition."""

    bucket: str
    key: str
    size: int
    content_type: str
    fields: tuple[tuple[str, str], ...] = ()


def hmac_chain(key: str, parts: Iterable[str]) -> bytes:
    """HMAC-SHA256 of each part keyed by the previous result: how both OSS V4 and AWS
    SigV4 derive their signing keys (they differ only in the prefix and the parts)."""
    derived = key.encode()
    for part in parts:
        derived = hmac.new(derived, part.encode(), hashlib.sha256).digest()
    return derived


def encode_policy(policy: Mapping[str, object]) -> str:
    """Base64 of the compact UTF-8 JSON policy (what both versions sign)."""
    text = json.dumps(policy, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(text.encode()).decode()
