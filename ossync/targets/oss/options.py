"""Object options as OSS takes them: PostObject form fields (each pinned in the policy)
and `x-oss-*` headers for InitiateMultipartUpload. PostObject takes no tags
("x-oss-tagging cannot be specified in PostObject requests"): a POST leaves them owed,
to a PutObjectTagging right after (`OssTarget.tag`)."""

from __future__ import annotations

from ossync.core.objectopts import ObjectOptions

META = "x-oss-meta-"


def _common(opts: ObjectOptions) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if opts.storage_class:
        out.append(("x-oss-storage-class", opts.storage_class))
    if opts.acl:
        out.append(("x-oss-object-acl", opts.acl))
    if opts.encryption:
        out.append(("x-oss-server-side-encryption", opts.encryption))
        if opts.encryption == "KMS" and opts.kms_key_id:
            out.append(("x-oss-server-side-encryption-key-id", opts.kms_key_id))
    if opts.cache_control:
        out.append(("Cache-Control", opts.cache_control))
    if opts.content_disposition:
        out.append(("Content-Disposition", opts.content_disposition))
    out += [(META + name, value) for name, value in opts.metadata]
    return out


def form_fields(opts: ObjectOptions) -> tuple[tuple[str, str], ...]:
    """The PostObject fields of `opts`, in sending order (tags are not among them)."""
    return tuple(_common(opts))


def headers(opts: ObjectOptions) -> dict[str, str]:
    """The headers of InitiateMultipartUpload (and PutObject): tags included."""
    out = dict(_common(opts))
    if opts.tags:
        out["x-oss-tagging"] = opts.tagging()
    return out
