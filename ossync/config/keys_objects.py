"""The keys of the options every uploaded object carries (docs/object-options.md): set at
the top level as defaults, and again in a `watch[]` folder to override them there (a
folder's `tags:` or `metadata:` replaces the top-level map whole). All apply on reload."""

from __future__ import annotations

from ossync.config.key import LIVE, Key

ENCRYPTIONS = ("none", "AES256", "KMS", "SM4")
RECORDS = ("relative", "absolute", "off")


def _keys(where: str) -> tuple[Key, ...]:
    """The option keys at the top level (`where` "") or in each folder ("watch[].")."""
    folder = bool(where)

    def inherited(name: str) -> str:
        return f"the top-level {name}" if folder else ""

    return (
        Key(f"{where}storage_class", "text", "The objects' storage class, as the store "
            "spells it (OSS: Standard, IA, Archive, ColdArchive, DeepColdArchive; S3: "
            "STANDARD, STANDARD_IA, GLACIER_IR, …); case does not matter.", reload=LIVE,
            default_text=inherited("storage_class") or "the bucket's default",
            example="Standard", commented=True),
        Key(f"{where}acl", "text", "The objects' ACL (OSS: default, private, public-read, "
            "public-read-write; S3: a canned ACL such as private).", reload=LIVE,
            default_text=inherited("acl") or "the bucket's", example="private",
            commented=True),
        Key(f"{where}server_side_encryption", "choice", "Encryption at rest: none, AES256, "
            "KMS (kms_key_id names the key, else the store's default one) or SM4 (OSS "
            "only).", "none" if not folder else None, LIVE, choices=ENCRYPTIONS,
            default_text=inherited("server_side_encryption"), example="AES256",
            commented=True),
        Key(f"{where}kms_key_id", "text", "The KMS key for server_side_encryption: KMS.",
            reload=LIVE, default_text=inherited("kms_key_id") or "the store's default key",
            example="alias/ossync", commented=True),
        Key(f"{where}cache_control", "text", "The objects' Cache-Control header.",
            reload=LIVE, default_text=inherited("cache_control") or "none",
            example="public, max-age=31536000, immutable", commented=True),
        Key(f"{where}content_disposition", "template", "The objects' Content-Disposition: a "
            "template; {name} is the file's name, written for RFC 6266 "
            "(filename*=UTF-8'' for names that are not plain ASCII).", reload=LIVE,
            default_text=inherited("content_disposition") or "none",
            example='inline; filename="{name}"', commented=True),
        Key(f"{where}tags", "mapping", "Object tags, at most 10: name to value; values are "
            "templates like the key's ({folder}, {host}, {date:%Y}, …).", reload=LIVE,
            default_text=inherited("tags") or "none",
            example={"source": "ossync", "folder": "{folder}"}, commented=True,
            note="OSS takes no tags with a form upload: ossync sets them right after it\n"
                 "(PutObjectTagging, so the key needs oss:PutObjectTagging too)." if not folder
            else ""),
        Key(f"{where}metadata", "mapping", "Extra user metadata (x-oss-meta-*, "
            "x-amz-meta-*): lower-case name to value, a template; names may not start "
            "with ossync-.", reload=LIVE, default_text=inherited("metadata") or "none",
            example={"project": "archive"}, commented=True),
        Key(f"{where}object_record", "choice", "ossync's own record on every object (the "
            "file's SHA-256, folder, host, path, mtime), what `ossync ledger rebuild` reads "
            "back: relative (the path under the folder), absolute (also the full path, "
            "which may leak names), or off.", "relative" if not folder else None, LIVE,
            choices=RECORDS, default_text=inherited("object_record"),
            example="relative" if folder else None, commented=folder),
    )


OBJECT_KEYS = _keys("")
WATCH_OBJECT_KEYS = _keys("watch[].")
