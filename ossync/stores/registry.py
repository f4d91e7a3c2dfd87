"""Config → store: one entry per kind of target, the only code that knows both a config
section (`ossync.config.stores`) and the target it makes (`ossync.targets`).

An entry maps its section to the target's constructor arguments (`build`), to the
line `check-config` prints (`summary`), for a store that presigns URLs to a
`UrlSigner` (`signer`), and for a store apps can POST to, to the `FormIssuer` that
signs their forms (`forms`). The daemon, `ossync put`, `check-config` and `ossync url
--signed` go through these functions and never look at a section's type themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ossync.config import Config
from ossync.config.replicas import ReplicaConfig
from ossync.config.stores import LocalConfig, OneTarget, OssConfig, S3Config
from ossync.core.clock import zone
from ossync.core.credentials import Credentials, CredentialSupply, StaticSupply
from ossync.core.objectopts import META_LIMIT
from ossync.core.throttle import Throttle
from ossync.targets import BucketReader, Target
from ossync.targets.direct import FormIssuer
from ossync.targets.multipart import MultipartSettings
from ossync.targets.oss.presign import UrlSigner

S = TypeVar("S")


@dataclass(frozen=True)
class Wiring:
    """What a target takes besides its section: keys (None: the section's own), one
    pooled connection per worker and part in flight, parts, the bandwidth cap."""

    credentials: CredentialSupply | None
    pool_size: int
    multipart: MultipartSettings
    throttle: Throttle


@dataclass(frozen=True)
class Store(Generic[S]):
    name: str  # the config section: `oss`, `s3`, `local`
    section: type[S]
    build: Callable[[S, Wiring], Target]
    summary: Callable[[S], str]  # check-config's `target:` line
    signer: Callable[[S, Credentials], UrlSigner] | None = None  # presigned URLs
    forms: Callable[[S], FormIssuer] | None = None  # apps' direct uploads (`uploads:`)


def _keys(section: OssConfig | S3Config, given: CredentialSupply | None) -> CredentialSupply:
    """Fixed keys as they are; a rotating source fetched on demand (one-shot commands:
    the daemon passes a supply whose refresher runs in the background)."""
    if given is not None:
        return given
    if section.credential_source is None:
        assert section.credentials is not None, "an oss: or s3: config has keys or a source"
        return StaticSupply(section.credentials)
    return section.credential_source.supply()


def _oss(oss: OssConfig, wiring: Wiring) -> Target:
    from ossync.targets.oss.target import OssTarget

    return OssTarget(
        endpoint=oss.endpoint, bucket=oss.bucket, region=oss.region,
        credentials=_keys(oss, wiring.credentials), signature_version=oss.signature_version,
        cname=oss.cname, public_url=oss.public_url, policy_lifetime=oss.policy_expires,
        connect_timeout=oss.connect_timeout, read_timeout=oss.read_timeout,
        pool_size=wiring.pool_size, multipart=wiring.multipart, throttle=wiring.throttle,
    )


def _oss_summary(oss: OssConfig) -> str:
    return (f"oss bucket {oss.bucket} in {oss.region} at {oss.endpoint} "
            f"(signature V{oss.signature_version}{', custom domain' if oss.cname else ''})")


def _oss_signer(oss: OssConfig, creds: Credentials) -> UrlSigner:
    return UrlSigner(creds, oss.endpoint, oss.region, cname=oss.cname,
                     signature_version=oss.signature_version, expires=oss.url_expires)


def _oss_forms(oss: OssConfig) -> FormIssuer:
    from ossync.targets.oss.direct import OssForms

    return OssForms(endpoint=oss.endpoint, bucket=oss.bucket, region=oss.region,
                    signature_version=oss.signature_version, cname=oss.cname)


def _s3(s3: S3Config, wiring: Wiring) -> Target:
    from ossync.targets.s3.target import S3Target

    return S3Target(
        endpoint=s3.endpoint, bucket=s3.bucket, region=s3.region,
        credentials=_keys(s3, wiring.credentials), addressing=s3.addressing,
        method=s3.method, if_none_match=s3.if_none_match, public_url=s3.public_url,
        policy_lifetime=s3.policy_expires, connect_timeout=s3.connect_timeout,
        read_timeout=s3.read_timeout, pool_size=wiring.pool_size,
        multipart=wiring.multipart, throttle=wiring.throttle,
    )


def _s3_summary(s3: S3Config) -> str:
    return (f"s3 bucket {s3.bucket} in {s3.region} at {s3.endpoint} ({s3.addressing}-style, "
            f"SigV4 {s3.method.upper()})")


def _s3_forms(s3: S3Config) -> FormIssuer:
    from ossync.targets.s3.direct import S3Forms

    return S3Forms(endpoint=s3.endpoint, bucket=s3.bucket, region=s3.region,
                   addressing=s3.addressing)


def _local(local: LocalConfig, _wiring: Wiring) -> Target:
    from ossync.targets.local import LocalTarget

    return LocalTarget(local.path, base_url=local.base_url)


def _local_summary(local: LocalConfig) -> str:
    return f"local folder {local.path} (URLs {local.base_url or 'file://'})"


STORES: tuple[Store[Any], ...] = (
    Store("oss", OssConfig, _oss, _oss_summary, _oss_signer, _oss_forms),
    Store("s3", S3Config, _s3, _s3_summary, forms=_s3_forms),
    Store("local", LocalConfig, _local, _local_summary),
)


def store_of(config: OneTarget) -> Store[Any]:
    """The entry for the config's (or a replica's) one target section."""
    section = config.target
    for store in STORES:
        if isinstance(section, store.section):
            return store
    raise AssertionError(f"no entry in STORES for {type(section).__name__}")


def make_target(config: Config, *, pool_size: int | None = None,
                credentials: CredentialSupply | None = None,
                throttle: Throttle | None = None) -> Target:
    """`throttle` carries `max_bandwidth` (the daemon keeps one to change on SIGHUP);
    without one, a throttle of the config's schedule. The connection pool holds one
    keep-alive connection per worker and part in flight, so none is opened twice."""
    wiring = Wiring(
        credentials=credentials,
        pool_size=pool_size or max(config.workers * config.part_concurrency, 4),
        multipart=MultipartSettings(threshold=config.multipart_threshold,
                                    part_size=config.part_size,
                                    concurrency=config.part_concurrency),
        throttle=throttle or Throttle(config.max_bandwidth, zone=zone(config.timezone)),
    )
    return store_of(config).build(config.target, wiring)


def make_replica_target(config: Config, replica: ReplicaConfig, *,
                        credentials: CredentialSupply | None = None,
                        throttle: Throttle | None = None) -> Target:
    """A replica's target: its own section, its own pool (one connection per worker of
    its own and part in flight), the config's multipart settings, and `throttle` (the
    daemon's: the host's cap, within which the replica's own share applies)."""
    wiring = Wiring(
        credentials=credentials,
        pool_size=max(replica.workers * config.part_concurrency, 4),
        multipart=MultipartSettings(threshold=config.multipart_threshold,
                                    part_size=config.part_size,
                                    concurrency=config.part_concurrency),
        throttle=throttle or Throttle(replica.max_bandwidth, zone=zone(config.timezone)),
    )
    return store_of(replica).build(replica.target, wiring)


def metadata_limit(config: OneTarget) -> int:
    """Bytes of user metadata the store takes on one object (OSS 8 KB, S3 2 KB)."""
    return META_LIMIT[store_of(config).name]


def make_reader(config: Config, *, pool_size: int = 16) -> BucketReader:
    """The config's store as a `BucketReader` (a listing, HEADs with metadata, tags), for
    `ossync ledger rebuild` and `ossync verify`: every target is one."""
    target = make_target(config, pool_size=pool_size)
    assert isinstance(target, BucketReader), f"{type(target).__name__} reads no bucket"
    return target


def form_issuer(config: Config) -> FormIssuer | None:
    """What signs apps' forms for the config's store (None: a store apps cannot POST to)."""
    forms = store_of(config).forms
    return None if forms is None else forms(config.target)


def describe_target(config: OneTarget) -> str:
    """One line on where uploads go (or a replica's copies), for `check-config`."""
    return store_of(config).summary(config.target)


def signing_stores() -> str:
    """The sections whose stores sign URLs, as a message names them: `oss:`."""
    return ", ".join(f"{s.name}:" for s in STORES if s.signer is not None)


def url_signer(config: Config) -> UrlSigner:
    """A signer with the config's keys; a rotating source is asked once, now
    (CredentialError when it cannot answer). ValueError for a store that signs none."""
    signer = store_of(config).signer
    if signer is None:
        raise ValueError(f"signed URLs are made for {signing_stores()} targets only, not "
                         f"{config.target_name}:")
    creds = config.credentials
    if creds is None:
        source = config.credential_source
        assert source is not None, "a store with keys has fixed keys or a source"
        creds = source.fetch()
    return signer(config.target, creds)
