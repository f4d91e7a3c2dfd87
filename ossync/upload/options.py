"""One file's object options: the folder's settings (`ossync.config.objects`) with their
templates filled for this file, and ossync's own record (`ossync.core.record`) among the
user metadata, within the store's budget for it.

Templates take the key's fields (`{folder}`, `{host}`, `{date:%Y}`, `{sha8}`, …) and
`{name}`, the file's own name. Rendered tags keep only what both stores take in a tag;
metadata values are percent-encoded where a header could not hold them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo

from ossync.config.objects import ObjectSettings
from ossync.core.objectopts import (
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    ObjectOptions,
    content_disposition,
    header_value,
    render,
    tag_text,
)
from ossync.core.objects import UploadResult
from ossync.core.record import ObjectRecord, fit
from ossync.intake.media import exif_datetime
from ossync.ledger import Content, CopyRow, FileRow
from ossync.targets import Target
from ossync.upload.outgoing import Outgoing
from ossync.upload.prepare import FileFacts, real_ext

log = logging.getLogger("ossync.upload.options")


class MetadataTooLarge(ValueError):
    """The folder's metadata does not fit the store's budget even without the paths."""


@dataclass(frozen=True)
class Place:
    """Where a file comes from, as its record and templates name it."""

    relpath: str  # under the watch folder, `/`-separated (OS form)
    abspath: str
    folder: str  # the folder's label
    host: str
    when: datetime  # what `{date}` renders


def template_values(facts: FileFacts, place: Place) -> dict[str, object]:
    segments = [s for s in place.relpath.split("/") if s]
    filename = segments[-1] if segments else facts.name
    stem = filename.rsplit(".", 1)[0] if "." in filename[1:] else filename
    return {"name": facts.name or filename, "stem": stem, "ext": real_ext(filename, facts.media),
            "sha256": facts.sha256, "sha8": facts.sha256[:8], "relpath": "/".join(segments),
            "reldir": "".join(s + "/" for s in segments[:-1]), "host": place.host,
            "folder": place.folder, "date": place.when}


def options_for(settings: ObjectSettings, facts: FileFacts, content: Content | None,
                place: Place, *, limit: int, tz: tzinfo) -> ObjectOptions:
    """The options to send with this file; MetadataTooLarge when they cannot fit."""
    values = template_values(facts, place)
    user = [(name, header_value(render(value, values))) for name, value in settings.metadata]
    record = _record(settings, facts, content, place, tz)
    try:
        metadata, dropped = fit(record, user, limit)
    except ValueError as exc:
        raise MetadataTooLarge(str(exc)) from None
    if dropped:
        log.warning("%s: ossync's record left out %s to fit the store's %d bytes of "
                    "metadata: a rebuild cannot place this object", facts.name,
                    " and ".join(dropped), limit)
    encryption = settings.server_side_encryption
    return ObjectOptions(
        storage_class=settings.storage_class, acl=settings.acl,
        encryption=None if encryption == "none" else encryption,
        kms_key_id=settings.kms_key_id if encryption == "KMS" else None,
        cache_control=settings.cache_control,
        content_disposition=None if settings.content_disposition is None else
        content_disposition(settings.content_disposition, values),
        tags=tuple((tag_text(name, MAX_TAG_KEY), tag_text(render(value, values), MAX_TAG_VALUE))
                   for name, value in settings.tags),
        metadata=tuple(metadata))


def _record(settings: ObjectSettings, facts: FileFacts, content: Content | None,
            place: Place, tz: tzinfo) -> list[tuple[str, str]]:
    if settings.object_record == "off":
        return []
    changed = content is not None and content.sent_sha256 != content.sha256
    return ObjectRecord(
        sha256=facts.sha256, size=facts.size, crc64=facts.crc64, folder=place.folder,
        host=place.host, mtime_ns=facts.mtime_ns, path=place.relpath,
        abspath=place.abspath if settings.object_record == "absolute" else None,
        taken=_taken(facts, tz),
        sent_sha256=content.sent_sha256 if changed and content else None,
        sent_crc64=content.sent_crc64 if changed and content else None,
        strip=content.strip_level if content and content.strip_level != "none" else None,
    ).metadata()


def _taken(facts: FileFacts, tz: tzinfo) -> str | None:
    """When the photo was taken, as its EXIF says (RFC 3339), or None."""
    try:
        taken = exif_datetime(facts.path, tz=tz)
    except OSError:
        return None
    return None if taken is None else taken.isoformat()



def owed_tagging(target: Target, row: FileRow | CopyRow, key: str, sent: Outgoing
                 ) -> UploadResult | None:
    """The object an earlier attempt stored under `key` and still owes its tags (the row
    says so), when it holds the bytes being sent: it is tagged, not sent again."""
    if not (row.tagging_owed and row.pending_key == key):
        return None
    info = target.head(key)
    if info is None or (info.size, info.crc64) != (sent.size, sent.crc64):
        return None
    log.info("%s: stored by an earlier attempt, still to be tagged", key)
    return UploadResult(key=key, url=target.url_for(key), size=sent.size, etag=info.etag,
                        crc64=info.crc64, already_present=True, tagging_owed=True)
