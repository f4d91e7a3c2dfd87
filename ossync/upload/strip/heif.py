"""HEIF (HEIC, AVIF): the Exif and XMP items are cleaned in place, in the bytes the item
table points at, so no box, offset or length changes and the coded image is untouched.

ossync has no HEIF box rewriter, so nothing is removed from the item tables: at `all`
the Exif item keeps only Orientation and the XMP item becomes an empty packet, both
zero- or space-padded to their old size. Orientation and colour (irot, imir, colr)
are item properties, not metadata, and always stay. Refused: image sequences (a
`moov` box, whose tracks can carry a location), items stored by reference or
compressed, and anything the tables do not describe exactly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import ossync.upload.strip.exif as exif
import ossync.upload.strip.xmp as xmp
from ossync.upload.strip.base import CannotStrip, Plan, Read, apply, bytes_reader, exact

MAX_META = 16 * 1024 * 1024
MAX_ITEM = 16 * 1024 * 1024
MAX_BOXES = 10_000


@dataclass(frozen=True)
class Item:
    id: int
    kind: bytes
    content_type: bytes = b""
    encoding: bytes = b""


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of the boxes in data[start:end]."""
    found: list[tuple[bytes, int, int, int]] = []
    pos = start
    while pos + 8 <= end and len(found) < MAX_BOXES:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise CannotStrip("a HEIF box header is cut short")
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise CannotStrip(f"the HEIF box {kind!r} has a bad size")
        found.append((kind, pos, pos + header, pos + size))
        pos += size
    return found


def _top_level(read: Read, size: int) -> list[tuple[bytes, int, int, int]]:
    found: list[tuple[bytes, int, int, int]] = []
    pos = 0
    while pos + 8 <= size and len(found) < MAX_BOXES:
        head = exact(read, pos, 16 if pos + 16 <= size else 8, "a HEIF box")
        length, kind = struct.unpack_from(">I4s", head)
        header = 8
        if length == 1:
            length, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif length == 0:
            length = size - pos
        if length < header or pos + length > size:
            raise CannotStrip(f"the HEIF box {kind!r} has a bad size")
        found.append((kind, pos, pos + header, pos + length))
        pos += length
    return found


def _uint(data: bytes, pos: int, n: int) -> int:
    if n == 0:
        return 0
    if pos + n > len(data):
        raise CannotStrip("a HEIF item table is cut short")
    return int.from_bytes(data[pos : pos + n], "big")


def _items(iinf: bytes) -> dict[int, Item]:
    version = iinf[0]
    pos = 4 + (2 if version == 0 else 4)
    items: dict[int, Item] = {}
    for kind, _, body, end in _boxes(iinf, pos, len(iinf)):
        if kind != b"infe":
            continue
        v = iinf[body]
        if v < 2:
            raise CannotStrip("HEIF item info before version 2 is not stripped")
        id_size = 2 if v == 2 else 4
        item_id = _uint(iinf, body + 4, id_size)
        at = body + 4 + id_size + 2
        item_type = iinf[at : at + 4]
        rest = iinf[at + 4 : end].split(b"\x00")
        ctype = rest[1] if item_type == b"mime" and len(rest) > 1 else b""
        encoding = rest[2] if item_type == b"mime" and len(rest) > 2 else b""
        items[item_id] = Item(item_id, item_type, ctype, encoding)
    return items


def _locations(iloc: bytes, idat_at: int | None) -> dict[int, list[tuple[int, int]]]:
    """Each item's extents as (file offset, length); method 1 (idat) mapped to the file."""
    version = iloc[0]
    offset_size, length_size = iloc[4] >> 4, iloc[4] & 15
    base_size, index_size = iloc[5] >> 4, (iloc[5] & 15 if version in (1, 2) else 0)
    id_size = 2 if version < 2 else 4
    count, pos = _uint(iloc, 6, id_size), 6 + id_size
    found: dict[int, list[tuple[int, int]]] = {}
    for _ in range(count):
        item = _uint(iloc, pos, id_size)
        pos += id_size
        method = 0
        if version in (1, 2):
            method, pos = _uint(iloc, pos, 2) & 15, pos + 2
        reference, pos = _uint(iloc, pos, 2), pos + 2
        base, pos = _uint(iloc, pos, base_size), pos + base_size
        extents, pos = _uint(iloc, pos, 2), pos + 2
        spans = []
        for _ in range(extents):
            pos += index_size
            offset, pos = _uint(iloc, pos, offset_size), pos + offset_size
            length, pos = _uint(iloc, pos, length_size), pos + length_size
            spans.append((offset, length))
        if method == 2 or reference != 0:
            found[item] = []  # by reference: cannot be cleaned where it is
            continue
        start = base if method == 0 else (idat_at or 0) + base
        if method == 1 and idat_at is None:
            raise CannotStrip("a HEIF item lives in an idat box that is missing")
        found[item] = [(start + off, n) for off, n in spans]
    return found


def plan_heif(read: Read, size: int, level: str) -> Plan:
    top = _top_level(read, size)
    if any(kind == b"moov" for kind, *_ in top):
        raise CannotStrip("HEIF image sequences (a moov box) are not stripped")
    metas = [box for box in top if box[0] == b"meta"]
    if len(metas) != 1:
        raise CannotStrip("a HEIF file needs exactly one top-level meta box")
    _, start, payload, end = metas[0]
    if end - start > MAX_META:
        raise CannotStrip("the HEIF meta box is over 16 MiB")
    meta = exact(read, start, end - start, "the HEIF meta box")
    children = {k: (s, b, e) for k, s, b, e in _boxes(meta, payload - start + 4, len(meta))}
    if b"iinf" not in children or b"iloc" not in children:
        return Plan()
    idat = children.get(b"idat")
    iinf = meta[children[b"iinf"][1] : children[b"iinf"][2]]
    iloc = meta[children[b"iloc"][1] : children[b"iloc"][2]]
    where = _locations(iloc, start + idat[1] if idat else None)
    plan = Plan()
    for item in _items(iinf).values():
        is_xmp = item.kind == b"mime" and item.content_type == b"application/rdf+xml"
        if item.kind != b"Exif" and not is_xmp:
            continue
        spans = where.get(item.id)
        if not spans:
            raise CannotStrip(f"the HEIF {'XMP' if is_xmp else 'Exif'} item is stored "
                              "by reference or nowhere")
        if is_xmp and item.encoding:
            raise CannotStrip("the HEIF XMP item is compressed")
        _clean_item(read, size, spans, is_xmp, level, plan)
    return plan


def _clean_item(read: Read, size: int, spans: list[tuple[int, int]], is_xmp: bool,
                level: str, plan: Plan) -> None:
    if any(n == 0 or off + n > size for off, n in spans) or sum(n for _, n in spans) > MAX_ITEM:
        raise CannotStrip("a HEIF metadata item does not lie inside the file")
    data = b"".join(exact(read, off, n, "a HEIF item") for off, n in spans)
    new = _clean_xmp(data, level, plan) if is_xmp else _clean_exif(data, level, plan)
    if new is None or new == data:
        return
    assert len(new) == len(data)
    pos = 0
    for off, n in spans:
        plan.replace(off, off + n, new[pos : pos + n])
        pos += n


def _clean_exif(data: bytes, level: str, plan: Plan) -> bytes | None:
    skip = _uint(data, 0, 4)  # offset of the TIFF header after these 4 bytes
    head = 4 + skip
    if head + 8 > len(data):
        raise CannotStrip("the HEIF Exif item is damaged")
    block = data[head:]
    if level == "all":
        order = exif.block_order(block)
        small = exif.minimal_exif(exif.orientation_of(block), order) or exif.empty_exif(order)
        plan.note("EXIF except Orientation")
        return data[:head] + small.ljust(len(block), b"\x00")
    scrubber = exif.TiffScrubber(bytes_reader(block), len(block), level, in_file=False)
    found = scrubber.run()
    for what in found.removed:
        plan.note(what)
    return data[:head] + apply(block, found.sorted_edits()) if found.removed else None


def _clean_xmp(data: bytes, level: str, plan: Plan) -> bytes | None:
    if level == "all":
        plan.note("XMP")
        return xmp.fit(xmp.EMPTY, len(data)) if len(data) >= len(xmp.EMPTY) else bytes(
            b" " * len(data))
    found = xmp.clean(data, level)
    if found is None:
        return None
    for what in found[1]:
        plan.note(what)
    return xmp.fit(found[0], len(data))
