"""Object options as S3 takes them: POST form fields (each pinned in the policy, as S3
requires of every field), and `x-amz-*` headers for PutObject and
CreateMultipartUpload. Tags go with the object either way: the `tagging` form field
(an XML document) or the `x-amz-tagging` header."""

from __future__ import annotations

from ossync.core.objectopts import ObjectOptions, tagging_xml

META = "x-amz-meta-"
ENCRYPTION = {"AES256": "AES256", "KMS": "aws:kms"}


def _common(opts: ObjectOptions, acl: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if opts.storage_class:
        out.append(("x-amz-storage-class", opts.storage_class))
    if opts.acl:
        out.append((acl, opts.acl))
    if opts.encryption:
        out.append(("x-amz-server-side-encryption", ENCRYPTION[opts.encryption]))
        if opts.encryption == "KMS" and opts.kms_key_id:
            out.append(("x-amz-server-side-encryption-aws-kms-key-id", opts.kms_key_id))
    if opts.cache_control:
        out.append(("Cache-Control", opts.cache_control))
    if opts.content_disposition:
        out.append(("Content-Disposition", opts.content_disposition))
    out += [(META + name, value) for name, value in opts.metadata]
    return out


def form_fields(opts: ObjectOptions) -> tuple[tuple[str, str], ...]:
    """The POST form fields of `opts` (the ACL is the `acl` field), tags as `tagging`."""
    out = _common(opts, "acl")
    if opts.tags:
        out.append(("tagging", tagging_xml(opts.tags).decode()))
    return tuple(out)


def headers(opts: ObjectOptions) -> dict[str, str]:
    """The headers of PutObject and CreateMultipartUpload, every one signed."""
    out = dict(_common(opts, "x-amz-acl"))
    if opts.tags:
        out["x-amz-tagging"] = opts.tagging()
    return out
