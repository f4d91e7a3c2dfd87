"""The object options of the top level and of each folder (`keys_objects`), read and
checked against what the configured store takes: a storage class, ACL or encryption
that the store does not know is a problem here, not a refusal at the first upload; a
`local:` target says which of them it ignores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ossync.config.checks import shown, text
from ossync.config.problems import Problems
from ossync.core.objectopts import (
    ACLS,
    ENCRYPTIONS,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    META_LIMIT,
    META_NAME,
    STORAGE_CLASSES,
    metadata_size,
    store_spelling,
    template_problem,
)

STORE_NAME = {"oss": "OSS", "s3": "S3"}
RECORD_ROOM = 700  # bytes of metadata ossync's record takes with a modest path
_NOT_FOR_A_FOLDER = ("storage_class", "acl", "server_side_encryption", "kms_key_id")


@dataclass(frozen=True)
class ObjectSettings:
    """One folder's object options as configured (templates not yet filled)."""

    storage_class: str | None = None  # as the store spells it
    acl: str | None = None
    server_side_encryption: str = "none"  # none, AES256, KMS, SM4
    kms_key_id: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None  # a template
    tags: tuple[tuple[str, str], ...] = ()  # values are templates
    metadata: tuple[tuple[str, str], ...] = ()  # values are templates
    object_record: str = "relative"  # relative, absolute or off


def mapping(value: Any) -> tuple[tuple[str, str], ...]:
    """A YAML mapping of names to text (numbers are taken as their text)."""
    if not isinstance(value, dict):
        raise ValueError(f"must be a mapping of names to values, not {shown(value)}")
    out = []
    for name, item in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{shown(name)}: a name must be text")
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        out.append((name, text(item)))
    return tuple(out)


def _template(value: Any) -> str:
    written = text(value)
    problem = template_problem(written)
    if problem:
        raise ValueError(problem)
    return written


def _header(value: Any) -> str:
    written = text(value)
    if not written.isascii():
        raise ValueError("must be ASCII (a header value)")
    return written


def parse_objects(raw: Mapping[Any, Any], where: str, p: Problems, inherited: ObjectSettings,
                  store: str) -> ObjectSettings:
    """The options at `where` ("" or "watch[i]."), each defaulting to `inherited`'s."""
    storage = _spelled(raw, where, "storage_class", p, inherited.storage_class,
                       STORAGE_CLASSES, store)
    acl = _spelled(raw, where, "acl", p, inherited.acl, ACLS, store)
    encryption = p.choice(raw, where, "server_side_encryption", inherited.server_side_encryption)
    if encryption != "none" and store in ENCRYPTIONS and encryption not in ENCRYPTIONS[store]:
        p.errors.append(f"{where}server_side_encryption: {STORE_NAME[store]} does not take "
                        f"{encryption} (it takes {', '.join(ENCRYPTIONS[store])})")
    key_id = p.get_or(raw, where, "kms_key_id", text, inherited.kms_key_id)
    if raw.get("kms_key_id") is not None and encryption != "KMS":
        p.warnings.append(f"{where}kms_key_id: ignored unless server_side_encryption is KMS")
    if store == "local":
        for name in _NOT_FOR_A_FOLDER:
            if raw.get(name) is not None:
                p.warnings.append(f"{where}{name}: a local: target ignores it (a folder has "
                                  "no storage classes, ACLs or encryption)")
    settings = ObjectSettings(
        storage_class=storage, acl=acl, server_side_encryption=encryption, kms_key_id=key_id,
        cache_control=p.get_or(raw, where, "cache_control", _header, inherited.cache_control),
        content_disposition=p.get_or(raw, where, "content_disposition", _template,
                                     inherited.content_disposition),
        tags=_tags(p.get_or(raw, where, "tags", mapping, inherited.tags), where, p),
        metadata=p.get_or(raw, where, "metadata", mapping, inherited.metadata),
        object_record=p.choice(raw, where, "object_record", inherited.object_record))
    _check_metadata(settings, where, p, store)
    return settings


def _spelled(raw: Mapping[Any, Any], where: str, name: str, p: Problems, inherited: str | None,
             table: Mapping[str, tuple[str, ...]], store: str) -> str | None:
    """A value the store knows, as it spells it."""
    value = p.get_or(raw, where, name, text, inherited)
    if value is None or store not in table:
        return value
    spelled = store_spelling(table[store], value)
    if spelled is None:
        p.errors.append(f"{where}{name}: {STORE_NAME[store]} does not take {shown(value)} "
                        f"(it takes {', '.join(table[store])})")
    return spelled


def _tags(tags: tuple[tuple[str, str], ...], where: str, p: Problems
          ) -> tuple[tuple[str, str], ...]:
    if len(tags) > MAX_TAGS:
        p.errors.append(f"{where}tags: {len(tags)} tags; a store takes at most {MAX_TAGS}")
    for name, value in tags:
        problem = template_problem(value)
        if not 0 < len(name) <= MAX_TAG_KEY:
            p.errors.append(f"{where}tags: the name {shown(name)} is longer than "
                            f"{MAX_TAG_KEY} characters")
        elif problem or len(value) > MAX_TAG_VALUE:
            p.errors.append(f"{where}tags.{name}: {problem or f'longer than {MAX_TAG_VALUE}'}")
    return tags


def _check_metadata(settings: ObjectSettings, where: str, p: Problems, store: str) -> None:
    for name, value in settings.metadata:
        if not META_NAME.match(name) or name.startswith("ossync-"):
            p.errors.append(f"{where}metadata: {shown(name)} is not a name a store takes "
                            "(lower-case letters, digits and -; not starting with ossync-)")
        elif template_problem(value):
            p.errors.append(f"{where}metadata.{name}: {template_problem(value)}")
    room = RECORD_ROOM if settings.object_record != "off" else 0
    size = metadata_size(settings.metadata)
    limit = META_LIMIT.get(store, META_LIMIT["oss"])
    if size + room > limit:
        p.errors.append(f"{where}metadata: {size} bytes, and ossync's record needs about "
                        f"{room}; the store takes {limit} in all")
