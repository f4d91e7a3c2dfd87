"""The official SDK (alibabacloud-oss-v2) pointed at a local endpoint: an independent
reader of what the store holds, for tests that check ossync's uploads."""

from __future__ import annotations

from typing import Any

import alibabacloud_oss_v2 as oss_v2

from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from tests.conftest import BUCKET, REGION


def sdk_client(server: LocalOSS, creds: Credentials) -> Any:
    cfg = oss_v2.config.load_default()
    cfg.credentials_provider = oss_v2.credentials.StaticCredentialsProvider(
        creds.access_key_id, creds.access_key_secret)
    cfg.region, cfg.endpoint, cfg.use_path_style = REGION, server.endpoint, True
    cfg.retry_max_attempts = 1
    return oss_v2.Client(cfg)


def open_uploads(server: LocalOSS, creds: Credentials) -> list[tuple[str, str]]:
    """(key, upload id) of every multipart upload the store holds open."""
    result = sdk_client(server, creds).list_multipart_uploads(
        oss_v2.ListMultipartUploadsRequest(bucket=BUCKET))
    return [(u.key, u.upload_id) for u in result.uploads or []]


def stored(server: LocalOSS, creds: Credentials, key: str) -> bytes:
    result = sdk_client(server, creds).get_object(oss_v2.GetObjectRequest(bucket=BUCKET,
                                                                          key=key))
    with result.body as body:
        return bytes(body.read())
