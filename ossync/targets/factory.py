"""Config → target: the one place that maps config fields to constructor arguments."""

from __future__ import annotations

from ossync.config import Config
from ossync.targets import Target
from ossync.targets.oss import OssTarget


def make_target(config: Config, *, pool_size: int | None = None) -> Target:
    oss = config.oss
    return OssTarget(
        endpoint=oss.endpoint, bucket=oss.bucket, region=oss.region,
        credentials=oss.credentials, signature_version=oss.signature_version,
        cname=oss.cname, public_url=oss.public_url, policy_lifetime=oss.policy_expires,
        connect_timeout=oss.connect_timeout, read_timeout=oss.read_timeout,
        pool_size=pool_size or max(config.workers, 4),
    )
