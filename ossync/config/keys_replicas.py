"""The keys of each `replicas[]` entry (docs/replicas.md): a destination besides the
primary, with one target section of its own (the keys of `oss:`, `s3:` or `local:`, whose
credentials resolve as the primary's do), its key templates, workers, bandwidth share and
object options. Everything here needs a restart."""

from __future__ import annotations

from ossync.config.key import Key
from ossync.config.keys_objects import ENCRYPTIONS, RECORDS

MAX_REPLICA_WORKERS = 64


def _inherits(name: str) -> str:
    return (f"the top-level {name} when the replica is the same kind of store as the "
            "primary, else the key's default")


REPLICA_OBJECT_KEYS = (
    Key("replicas[].storage_class", "text", "The replica's objects' storage class, as its "
        "store spells it.", default_text=_inherits("storage_class"),
        example="Archive", commented=True),
    Key("replicas[].acl", "text", "The replica's objects' ACL.",
        default_text=_inherits("acl"), example="private", commented=True),
    Key("replicas[].server_side_encryption", "choice", "Encryption at rest in the replica: "
        "none, AES256, KMS or SM4 (OSS only).", choices=ENCRYPTIONS,
        default_text=_inherits("server_side_encryption"), example="AES256", commented=True),
    Key("replicas[].kms_key_id", "text", "The KMS key for server_side_encryption: KMS.",
        default_text=_inherits("kms_key_id"), example="alias/ossync", commented=True),
    Key("replicas[].cache_control", "text", "The replica's objects' Cache-Control header.",
        default_text=_inherits("cache_control"), example="public, max-age=31536000",
        commented=True),
    Key("replicas[].content_disposition", "template", "The replica's objects' "
        "Content-Disposition: a template, as the top-level one.",
        default_text=_inherits("content_disposition"), example='inline; filename="{name}"',
        commented=True),
    Key("replicas[].tags", "mapping", "The replica's object tags, at most 10.",
        default_text=_inherits("tags"), example={"copy": "offsite"}, commented=True),
    Key("replicas[].metadata", "mapping", "The replica's extra user metadata.",
        default_text=_inherits("metadata"), example={"project": "archive"}, commented=True),
    Key("replicas[].object_record", "choice", "ossync's own record on the replica's "
        "objects: relative, absolute or off.", choices=RECORDS,
        default_text=_inherits("object_record"), example="relative", commented=True),
)

REPLICAS = (
    Key("replicas[].name", "name", "The replica's name: in the ledger (copies.destination), "
        "`ossync ls --replica`, events, metrics and the log; letters, digits, '.', '_' and "
        "'-', not primary.", example="nas"),
    Key("replicas[].oss", "section", "The replica is an OSS bucket: the keys of the "
        "top-level oss: section; with none of its own credential keys, a replica on OSS "
        "uses the primary's keys when the primary is on OSS too.", commented=True,
        example={"endpoint": "https://oss-cn-shanghai.aliyuncs.com", "bucket": "my-copy"},
        note="Exactly one of oss:, s3: and local: in each replica."),
    Key("replicas[].s3", "section", "The replica is an S3-compatible bucket: the keys of "
        "the top-level s3: section (credentials as for oss:).", commented=True,
        example={"endpoint": "https://s3.eu-west-1.amazonaws.com", "bucket": "my-backup"}),
    Key("replicas[].local", "section", "The replica is a local folder (a NAS mount, say): "
        "the keys of the top-level local: section.", commented=True,
        example={"path": "/mnt/nas/photos"}),
    Key("replicas[].prefix", "template", "The start of the replica's object keys.",
        default_text="each folder's prefix (the primary's key)", example="{folder}/",
        commented=True),
    Key("replicas[].key_name", "template", "The rest of the replica's object keys (the "
        "top-level name:; name: names the replica here).",
        default_text="each folder's name", example="{stem}-{sha8}{ext}", commented=True),
    Key("replicas[].workers", "whole", "Files sent to this replica at once, by workers of "
        "its own (a replica that is slow or down never holds up the primary's).",
        default_text="the top-level workers", low=1, high=MAX_REPLICA_WORKERS, example=4,
        commented=True),
    Key("replicas[].max_bandwidth", "rate", "Cap on the bytes sent to this replica: its "
        "share of the host's max_bandwidth, which covers every destination (a rate, or a "
        "daily schedule).", default_text="off: only the host's max_bandwidth",
        low=10e3, high=100e9, example="5MB/s", commented=True),
    *REPLICA_OBJECT_KEYS,
)
