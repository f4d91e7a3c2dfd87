"""An object's options as the endpoint takes, keeps and answers them, in both dialects:
storage class, ACL, server-side encryption, Cache-Control and the like, tags and user
metadata — from PutObject and InitiateMultipartUpload headers, or PostObject form
fields (which must each be pinned by an exact policy condition), checked against what
OSS (or S3) accepts, and returned by HEAD and GET.

Values are kept as sent (`Extras`, in the object's metadata JSON); user metadata by
name without its prefix, and answered with the asking dialect's (`x-oss-meta-`,
`x-amz-meta-`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

from ossync.localoss.policy import Policy
from ossync.localoss.responses import OSSError, access_denied, invalid_argument

STORAGE = {False: ("Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"),
           True: ("STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR",
                  "GLACIER", "DEEP_ARCHIVE", "REDUCED_REDUNDANCY")}
ACL = {False: ("default", "private", "public-read", "public-read-write"),
       True: ("private", "public-read", "public-read-write", "authenticated-read",
              "bucket-owner-read", "bucket-owner-full-control")}
ENCRYPTION = {False: {"AES256": "AES256", "KMS": "KMS", "SM4": "SM4"},
              True: {"AES256": "AES256", "aws:kms": "KMS"}}
HEADERS = ("cache-control", "content-disposition", "content-encoding", "expires")
META_LIMIT = {False: 8 * 1024, True: 2 * 1024}
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 10, 128, 256


@dataclass(frozen=True)
class Extras:
    """What an object keeps besides its bytes, its type and its user metadata."""

    storage_class: str = ""  # as sent; "" is the bucket's default (Standard)
    acl: str = ""
    encryption: str = ""  # AES256, KMS or SM4, whichever dialect sent it
    kms_key_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> Extras:
        return cls(**doc) if doc else cls()


def _x(s3: bool) -> str:
    return "x-amz-" if s3 else "x-oss-"


def bare_meta(user_meta: Mapping[str, str]) -> dict[str, str]:
    """User metadata by bare name (older objects kept the prefix)."""
    return {k.removeprefix("x-oss-meta-").removeprefix("x-amz-meta-"): v
            for k, v in user_meta.items()}


def from_headers(headers: Mapping[str, str], *, s3: bool, kms: bool
                 ) -> tuple[Extras, dict[str, str]]:
    """The options and user metadata of PutObject or InitiateMultipartUpload (headers
    with lower-case names)."""
    x = _x(s3)
    tagging = headers.get(f"{x}tagging")
    tags = _checked_tags(_query_tags(tagging)) if tagging else {}
    acl_name = "x-amz-acl" if s3 else "x-oss-object-acl"
    return _extras(headers, acl_name, tags, s3=s3, kms=kms), _user_meta(headers, s3)


def from_form(fields: Mapping[str, str], policy: Policy, *, s3: bool, kms: bool
              ) -> tuple[Extras, dict[str, str]]:
    """The options and user metadata of a PostObject form (lower-case names): each one
    must be pinned by an exact condition of the policy, and OSS takes no tags."""
    x = _x(s3)
    if not s3 and f"{x}tagging" in fields:
        raise invalid_argument("x-oss-tagging cannot be specified in PostObject requests.",
                               "x-oss-tagging", fields[f"{x}tagging"])
    exact = policy.exact_names()
    for name in fields:
        if is_option(name, s3) and name not in exact:
            raise access_denied("Invalid according to Policy: Policy Condition failed: "
                                f"the policy has no exact condition for {name}")
    tags = _checked_tags(parse_tagging(fields["tagging"].encode())) if (
        s3 and "tagging" in fields) else {}
    return _extras(fields, "acl" if s3 else "x-oss-object-acl", tags, s3=s3, kms=kms), \
        _user_meta(fields, s3)


def is_option(name: str, s3: bool) -> bool:
    x = _x(s3)
    return name.startswith((f"{x}meta-", f"{x}storage-class", f"{x}server-side-encryption")) \
        or name in (*HEADERS, "x-oss-object-acl", "x-oss-content-type") \
        or (s3 and name in ("acl", "tagging"))


def _user_meta(values: Mapping[str, str], s3: bool) -> dict[str, str]:
    prefix = f"{_x(s3)}meta-"
    meta = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
    if size > META_LIMIT[s3]:
        raise OSSError(400, "MetadataTooLarge", "Your metadata headers exceed the maximum "
                       "allowed metadata size.", Size=str(size),
                       MaxSizeAllowed=str(META_LIMIT[s3]))
    return meta


def _extras(values: Mapping[str, str], acl_name: str, tags: dict[str, str], *, s3: bool,
            kms: bool) -> Extras:
    x = _x(s3)
    storage = values.get(f"{x}storage-class", "")
    if storage and storage not in STORAGE[s3]:
        raise OSSError(400, "InvalidStorageClass", "The storage class you specified is not "
                       "valid.", StorageClassRequested=storage)
    acl = values.get(acl_name, "")
    if acl and acl not in ACL[s3]:
        raise invalid_argument("no such object access control exists", acl_name, acl)
    sent = values.get(f"{x}server-side-encryption", "")
    encryption = ENCRYPTION[s3].get(sent, "") if sent else ""
    if sent and not encryption:
        raise OSSError(400, "InvalidEncryptionAlgorithmError", "The encryption request you "
                       "specified is not valid.", ArgumentValue=sent)
    key_name = f"{x}server-side-encryption-{'aws-kms-key-id' if s3 else 'key-id'}"
    key_id = values.get(key_name, "")
    if key_id and encryption != "KMS":
        raise invalid_argument("A key id needs KMS encryption.", key_name, key_id)
    if encryption == "KMS" and not kms:
        raise OSSError(403, "KmsServiceNotEnabled", "The KMS service is not enabled for "
                       "this account.")
    return Extras(storage, acl, encryption, key_id,
                  {h: values[h] for h in HEADERS if values.get(h)}, tags)


def answer(extras: Extras, user_meta: Mapping[str, str], *, s3: bool) -> dict[str, str]:
    """The headers HEAD and GET carry for these options (S3 names no STANDARD class)."""
    x = _x(s3)
    out = {f"{x}meta-{k}": v for k, v in bare_meta(user_meta).items()}
    if not s3:
        out[f"{x}storage-class"] = extras.storage_class or "Standard"
    elif extras.storage_class not in ("", "STANDARD"):
        out[f"{x}storage-class"] = extras.storage_class
    if extras.encryption:
        wire = {v: k for k, v in ENCRYPTION[s3].items()}
        out[f"{x}server-side-encryption"] = wire.get(extras.encryption, extras.encryption)
        if extras.kms_key_id:
            name = "aws-kms-key-id" if s3 else "key-id"
            out[f"{x}server-side-encryption-{name}"] = extras.kms_key_id
    if extras.tags:
        out[f"{x}tagging-count"] = str(len(extras.tags))
    out.update({name.title(): value for name, value in extras.headers.items()})
    return out


def _query_tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in text.split("&"):
        if item:
            k, _, v = item.partition("=")
            if unquote(k) in tags:
                raise OSSError(400, "InvalidTag", "Tag keys must be unique.")
            tags[unquote(k)] = unquote(v)
    return tags


def parse_tagging(body: bytes) -> dict[str, str]:
    """A `<Tagging><TagSet><Tag><Key/><Value/></Tag>…` document (any namespace)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise OSSError(400, "MalformedXML", "The XML you provided was not well-formed.") \
            from None
    if root.tag.rpartition("}")[2] != "Tagging":
        raise OSSError(400, "MalformedXML", "The root element must be Tagging.")
    tags: dict[str, str] = {}
    for node in root.iter():
        if node.tag.rpartition("}")[2] != "Tag":
            continue
        item = {c.tag.rpartition("}")[2]: (c.text or "") for c in node}
        if "Key" not in item or item["Key"] in tags:
            raise OSSError(400, "InvalidTag", "Tag keys must be given and unique.")
        tags[item["Key"]] = item.get("Value", "")
    return tags


def _checked_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise OSSError(400, "BadRequest", f"Object tags cannot be greater than {MAX_TAGS}")
    for key, value in tags.items():
        if not 0 < len(key) <= MAX_TAG_KEY or len(value) > MAX_TAG_VALUE:
            raise OSSError(400, "InvalidTag", "The TagKey or TagValue you have provided is "
                           "too long or empty.", TagKey=key[:MAX_TAG_KEY])
    return tags


def checked_tagging(body: bytes) -> dict[str, str]:
    """PutObjectTagging's body, parsed and checked."""
    return _checked_tags(parse_tagging(body))
