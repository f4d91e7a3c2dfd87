"""Config → target: the one place that maps config fields to constructor arguments."""

from __future__ import annotations

from ossync.config import Config
from ossync.core.clock import zone
from ossync.core.credentials import CredentialSupply, StaticSupply
from ossync.core.throttle import Throttle
from ossync.targets import Target
from ossync.targets.multipart import MultipartSettings
from ossync.targets.oss.target import OssTarget


def _supply(config: Config) -> CredentialSupply:
    """Fixed keys as they are; a rotating source fetched on demand (one-shot commands:
    the daemon passes a supply whose refresher runs in the background)."""
    source = config.credential_source
    if source is None:
        assert config.credentials is not None, "an oss: or s3: config has keys or a source"
        return StaticSupply(config.credentials)
    return source.supply()


def multipart_settings(config: Config) -> MultipartSettings:
    return MultipartSettings(threshold=config.multipart_threshold, part_size=config.part_size,
                             concurrency=config.part_concurrency)


def make_target(config: Config, *, pool_size: int | None = None,
                credentials: CredentialSupply | None = None,
                throttle: Throttle | None = None) -> Target:
    """`throttle` carries `max_bandwidth` (the daemon keeps one to change on SIGHUP);
    without one, a throttle of the config's schedule. The connection pool holds one
    keep-alive connection per worker and part in flight, so none is opened twice."""
    pool = pool_size or max(config.workers * config.part_concurrency, 4)
    throttle = throttle or Throttle(config.max_bandwidth, zone=zone(config.timezone))
    if config.s3 is not None:
        from ossync.targets.s3.target import S3Target

        s3 = config.s3
        return S3Target(
            endpoint=s3.endpoint, bucket=s3.bucket, region=s3.region,
            credentials=credentials or _supply(config), addressing=s3.addressing,
            method=s3.method, if_none_match=s3.if_none_match, public_url=s3.public_url,
            policy_lifetime=s3.policy_expires, connect_timeout=s3.connect_timeout,
            read_timeout=s3.read_timeout, pool_size=pool,
            multipart=multipart_settings(config), throttle=throttle,
        )
    if config.local is not None:
        from ossync.targets.local import LocalTarget

        return LocalTarget(config.local.path, base_url=config.local.base_url)
    oss = config.oss
    assert oss is not None
    return OssTarget(
        endpoint=oss.endpoint, bucket=oss.bucket, region=oss.region,
        credentials=credentials or _supply(config), signature_version=oss.signature_version,
        cname=oss.cname, public_url=oss.public_url, policy_lifetime=oss.policy_expires,
        connect_timeout=oss.connect_timeout, read_timeout=oss.read_timeout,
        pool_size=pool, multipart=multipart_settings(config), throttle=throttle,
    )
