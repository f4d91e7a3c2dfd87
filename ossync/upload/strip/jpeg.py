"""JPEG: the segments before the first scan are cleaned; the scans are copied untouched.

APP1 Exif is scrubbed in place (at `all`: replaced by Orientation alone), APP1 XMP is
cleaned (dropped at `all`), APP13 IPTC cleaned (dropped at `all`), extended XMP and
every APPn ossync cannot read field by field dropped, COM dropped at `all`. JFIF,
ICC profiles (APP2) and Adobe's colour transform (APP14) always stay. Images that an
MPF segment (APP2) appends after the end of the first — previews, depth and gain
maps — are cleaned in place and their offsets kept right; other bytes after the end
(motion-photo videos, vendor trailers) are dropped.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

import ossync.upload.strip.exif as exif
import ossync.upload.strip.iptc as iptc
import ossync.upload.strip.xmp as xmp
from ossync.upload.strip.base import CannotStrip, Plan, Read, at_least, exact

EXIF_ID, XMP_ID = b"Exif\x00\x00", b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_ID, PS_ID = b"http://ns.adobe.com/xmp/extension/\x00", b"Photoshop 3.0\x00"
SOS, EOI, COM, APP0, APP1, APP2, APP13, APP14 = 0xDA, 0xD9, 0xFE, 0xE0, 0xE1, 0xE2, 0xED, 0xEE
MAX_SEGMENTS = 4096
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_SCAN_CHUNK = 1 << 20


@dataclass(frozen=True)
class Segment:
    marker: int
    start: int  # at its FF
    end: int
    body: bytes  # after the length field


def segments(read: Read, start: int) -> tuple[list[Segment], int]:
    """The segments from SOI at `start` up to SOS, and where the first scan's header is."""
    if read(start, 2) != b"\xff\xd8":
        raise CannotStrip("a JPEG image does not start with SOI")
    found: list[Segment] = []
    pos = start + 2
    while len(found) < MAX_SEGMENTS:
        head = read(pos, 4)
        if len(head) < 2 or head[0] != 0xFF:
            raise CannotStrip(f"JPEG markers are damaged at offset {pos}")
        marker = head[1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == SOS:
            return found, pos
        if marker == EOI or marker == 0xD8 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            raise CannotStrip(f"unexpected JPEG marker FF{marker:02X} before the image data")
        if len(head) < 4:
            raise CannotStrip("the JPEG ends inside its headers")
        length = struct.unpack_from(">H", head, 2)[0]
        if length < 2:
            raise CannotStrip(f"a JPEG segment at offset {pos} has a bad length")
        body = exact(read, pos + 4, length - 2, "a JPEG segment")
        found.append(Segment(marker, pos, pos + 2 + length, body))
        pos += 2 + length
    raise CannotStrip("too many JPEG segments")


def image_end(read: Read, size: int, sos: int) -> int:
    """Just past the EOI that ends the image whose first scan header is at `sos`."""
    pos = sos
    while pos < size:
        data = read(pos, _SCAN_CHUNK + 1)
        if len(data) < 2:
            break
        match = _MARKER.search(data, 0, len(data))
        if match is None or match.start() + 1 >= len(data):
            pos += max(len(data) - 1, 1)
            continue
        at = pos + match.start()
        marker = data[match.start() + 1]
        if marker == EOI:
            return at + 2
        length = struct.unpack(">H", exact(read, at + 2, 2, "a JPEG segment"))[0]
        pos = at + 2 + max(length, 2)
    return size


def _segment(marker: int, body: bytes) -> bytes:
    if len(body) > 65533:
        raise CannotStrip("a cleaned JPEG segment does not fit in a segment")
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def _ident(seg: Segment) -> str:
    name = seg.body[:24].split(b"\x00")[0].decode("latin-1")
    return name if name.isprintable() and name else "?"


class _Cleaner:
    """What happens to each header segment of one image; `in_place` keeps every size
    (for images an MPF index points at): a dropped segment becomes a zeroed COM."""

    def __init__(self, level: str, plan: Plan, in_place: bool) -> None:
        self.level, self.plan, self.in_place = level, plan, in_place

    def drop(self, seg: Segment, why: str) -> None:
        self.plan.note(why)
        if self.in_place:
            self.plan.replace(seg.start, seg.end, _segment(COM, bytes(len(seg.body))))
        else:
            self.plan.replace(seg.start, seg.end)

    def swap(self, seg: Segment, body: bytes) -> None:
        if self.in_place and len(body) != len(seg.body):
            body = body.ljust(len(seg.body), b"\x00")
        self.plan.replace(seg.start, seg.end, _segment(seg.marker, body))

    def segment(self, seg: Segment) -> None:
        marker, body, level = seg.marker, seg.body, self.level
        if marker == APP1 and body.startswith(EXIF_ID):
            self.exif(seg)
        elif marker == APP1 and body.startswith(XMP_ID):
            self.xmp(seg)
        elif marker == APP1 and body.startswith(XMP_EXT_ID):
            self.drop(seg, "extended XMP")
        elif marker == APP0 and body.startswith(b"JFIF\x00"):
            if at_least(level, "private") and len(body) > 14 and body[12] * body[13]:
                self.plan.note("JFIF thumbnail")
                self.swap(seg, body[:12] + b"\x00\x00")
        elif marker == APP0 and body.startswith(b"JFXX\x00"):
            if at_least(level, "private"):
                self.drop(seg, "JFIF thumbnail")
        elif marker == APP2 and body.startswith((b"ICC_PROFILE\x00", b"MPF\x00")):
            pass  # the colour profile; the MPF index is handled by the caller
        elif marker == APP13 and body.startswith(PS_ID):
            self.photoshop(seg)
        elif marker == APP14 and body.startswith(b"Adobe"):
            pass  # the colour transform decoders need
        elif 0xE0 <= marker <= 0xEF:
            self.drop(seg, f"APP{marker - 0xE0} {_ident(seg)}")
        elif marker == COM and level == "all":
            self.drop(seg, "JPEG comment")

    def exif(self, seg: Segment) -> None:
        block = seg.body[len(EXIF_ID):]
        if self.level == "all" and not self.in_place:
            small = exif.minimal_exif(exif.orientation_of(block), exif.block_order(block))
            self.plan.note("EXIF except Orientation")
            if small is None:
                self.plan.replace(seg.start, seg.end)
            else:
                self.plan.replace(seg.start, seg.end, _segment(APP1, EXIF_ID + small))
            return
        cleaned, removed = exif.scrub_block(block, self.level)
        if removed:
            for what in removed:
                self.plan.note(what)
            self.swap(seg, EXIF_ID + cleaned)

    def xmp(self, seg: Segment) -> None:
        if self.level == "all":
            self.drop(seg, "XMP")
            return
        packet = seg.body[len(XMP_ID):]
        cleaned = xmp.clean(packet, self.level)
        if cleaned is None:
            return
        data, removed = cleaned
        for what in removed:
            self.plan.note(what)
        if self.in_place:
            data = xmp.fit(data, len(packet))
        self.swap(seg, XMP_ID + data)

    def photoshop(self, seg: Segment) -> None:
        if self.level == "all":
            self.drop(seg, "Photoshop/IPTC")
            return
        cleaned = iptc.clean_resources(seg.body[len(PS_ID):], self.level)
        if cleaned is not None:
            data, removed = cleaned
            for what in removed:
                self.plan.note(what)
            self.swap(seg, PS_ID + data)


def plan_jpeg(read: Read, size: int, level: str) -> Plan:
    plan = Plan()
    found, sos = segments(read, 0)
    cleaner = _Cleaner(level, plan, in_place=False)
    mpf = next((s for s in found if s.marker == APP2 and s.body.startswith(b"MPF\x00")), None)
    for seg in found:
        if seg is mpf and level == "all":
            cleaner.drop(seg, "MPF images (previews, depth and gain maps)")
        elif seg is not mpf:
            cleaner.segment(seg)
    end = image_end(read, size, sos)
    if mpf is not None and level != "all":
        end = _appended_images(read, size, level, plan, mpf, end)
    if end < size and read(end, size - end).strip(b"\x00"):
        plan.note("data after the image's end (a motion-photo video or vendor trailer)")
        plan.replace(end, size)
    return plan


def _mp_entries(mpf: Segment) -> tuple[str, int, list[tuple[int, int, int]]]:
    """The MP Index's byte order, where its entries are in the segment body, and each
    (size, offset, position of the offset field in the body)."""
    block = mpf.body[4:]
    order = {b"II": "<", b"MM": ">"}.get(block[:2])
    if order is None or len(block) < 10:
        raise CannotStrip("the MPF segment is damaged")
    ifd = struct.unpack_from(order + "I", block, 4)[0]
    if ifd + 2 > len(block):
        raise CannotStrip("the MPF segment is damaged")
    count = struct.unpack_from(order + "H", block, ifd)[0]
    for i in range(count):
        at = ifd + 2 + 12 * i
        if at + 12 > len(block):
            raise CannotStrip("the MPF segment is damaged")
        tag, _, n, value = struct.unpack_from(order + "HHII", block, at)
        if tag == 0xB002:
            if value + n > len(block) or n % 16:
                raise CannotStrip("the MPF image index is damaged")
            entries = []
            for e in range(value, value + n, 16):
                length, offset = struct.unpack_from(order + "II", block, e + 4)
                entries.append((length, offset, 4 + e + 8))
            return order, 4, entries
    raise CannotStrip("the MPF segment has no image index")


def _appended_images(read: Read, size: int, level: str, plan: Plan, mpf: Segment,
                     end: int) -> int:
    """Clean the images an MPF index lists, in place; fix their offsets for what the first
    image's headers lost after the MPF segment. Returns where the last image ends."""
    order, _, entries = _mp_entries(mpf)
    base = mpf.start + 8  # the MP header (byte order mark) after FF E2, length, "MPF\0"
    shift = sum((e.end - e.start) - len(e.data) for e in plan.edits if e.start > mpf.start)
    body = bytearray(mpf.body)
    last = end
    for length, offset, field in entries:
        if offset == 0:
            continue  # the first image
        start = base + offset
        if start < end or start + length > size:
            raise CannotStrip("an MPF image entry points outside the file")
        found, _ = segments(read, start)
        cleaner = _Cleaner(level, plan, in_place=True)
        for seg in found:
            cleaner.segment(seg)
        struct.pack_into(order + "I", body, field, offset - shift)
        last = max(last, start + length)
    if shift:
        plan.replace(mpf.start, mpf.end, _segment(APP2, bytes(body)))
    return last
