"""What a dropped file really is, whether it is finished, and when it was taken.

Extensions lie (a camera's web UI can save an HTML error page as `.jpg`), so the
type comes from magic bytes. The EXIF reader sees half-written and corrupt files
all day: every read and loop is bounded, and bad data gives None, not an exception.
Standard library only.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path, PurePath
from typing import BinaryIO

SNIFF_BYTES = 64
JPEG_PADDING_MAX = 64  # some cameras pad the file with zeros after EOI
JPEG_TAIL_BYTES = 2 + JPEG_PADDING_MAX  # what a caller reads for jpeg_complete()
EXIF_SCAN_BYTES = 128 * 1024  # JPEG APP1 / HEIF `meta` / CR3 `moov` must start in here
_MAX_IFD_ENTRIES = 1024
_MAX_TEXT = 64
_MAX_EXIF_PAYLOAD = 64 * 1024


@dataclass(frozen=True)
class MediaType:
    content_type: str
    ext: str  # canonical, lower-case, with the dot


JPEG = MediaType("image/jpeg", ".jpg")
PNG = MediaType("image/png", ".png")
GIF = MediaType("image/gif", ".gif")
WEBP = MediaType("image/webp", ".webp")
BMP = MediaType("image/bmp", ".bmp")
TIFF = MediaType("image/tiff", ".tiff")
HEIC = MediaType("image/heic", ".heic")
HEIF = MediaType("image/heif", ".heif")
AVIF = MediaType("image/avif", ".avif")
DNG = MediaType("image/x-adobe-dng", ".dng")
CR2 = MediaType("image/x-canon-cr2", ".cr2")
CR3 = MediaType("image/x-canon-cr3", ".cr3")
NEF = MediaType("image/x-nikon-nef", ".nef")
ARW = MediaType("image/x-sony-arw", ".arw")
ORF = MediaType("image/x-olympus-orf", ".orf")
RW2 = MediaType("image/x-panasonic-rw2", ".rw2")
RAF = MediaType("image/x-fuji-raf", ".raf")

_PREFIXES = (
    (b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG), (b"GIF87a", GIF), (b"GIF89a", GIF),
    (b"FUJIFILMCCD-RAW", RAF), (b"IIRO", ORF), (b"IIRS", ORF), (b"MMOR", ORF), (b"IIU\x00", RW2),
)
_FTYP_BRANDS = {
    **dict.fromkeys((b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs"), HEIC),
    **dict.fromkeys((b"mif1", b"msf1"), HEIF),
    **dict.fromkeys((b"avif", b"avis"), AVIF),
    b"crx ": CR3,
}
_TIFF_RAW_BY_EXT = {".dng": DNG, ".nef": NEF, ".arw": ARW}
_BMP_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}
_CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")

# EXIF tags we read: IFD0 DateTime and the Exif sub-IFD pointer; in the Exif IFD
# DateTimeOriginal, OffsetTime (pairs with DateTime) and OffsetTimeOriginal.
_DATETIME, _EXIF_IFD, _ORIGINAL, _OFFSET, _OFFSET_ORIGINAL = 0x0132, 0x8769, 0x9003, 0x9010, 0x9011
_WANTED = {_DATETIME, _EXIF_IFD, _ORIGINAL, _OFFSET, _OFFSET_ORIGINAL}
_STAMP = re.compile(rb"(\d{4}):(\d\d):(\d\d)[ T](\d\d):(\d\d):(\d\d)")
_ZONE = re.compile(rb"([+-])(\d\d):(\d\d)")

_Read = Callable[[int, int], bytes]  # (offset, size) -> at most size bytes
_Tags = dict[int, bytes | int]


def sniff(head: bytes) -> MediaType | None:
    """The image type the first SNIFF_BYTES prove, or None for anything we don't upload."""
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[:2] == b"BM" and len(head) >= 18:
        # "BM" alone is too weak (a text file may start so): require a known DIB header size.
        return BMP if struct.unpack_from("<I", head, 14)[0] in _BMP_DIB_SIZES else None
    if head[:4] in (b"II*\x00", b"MM\x00*"):  # CR2 is TIFF with a marker at offset 8
        return CR2 if head[8:12] == b"CR\x02\x00" else TIFF
    return None


def _sniff_ftyp(head: bytes) -> MediaType | None:
    """ISO-BMFF: the major brand if it is specific, else a compatible one (mif1 is generic)."""
    end = min(struct.unpack_from(">I", head)[0], len(head))
    brands = [head[8:12], *(head[i : i + 4] for i in range(16, end - 3, 4))]
    found = sorted((_FTYP_BRANDS[b] for b in brands if b in _FTYP_BRANDS), key=lambda t: t == HEIF)
    return found[0] if found else None


def sniff_with_name(head: bytes, filename: str) -> MediaType | None:
    """Like sniff(), but names DNG/NEF/ARW, which are plain TIFF to the first bytes."""
    found = sniff(head)
    if found == TIFF:
        return _TIFF_RAW_BY_EXT.get(PurePath(filename).suffix.lower(), TIFF)
    return found


def jpeg_complete(tail: bytes) -> bool:
    """True if the last JPEG_TAIL_BYTES end in EOI (`FF D9`), allowing zero padding.

    A scanner that creates the file before the scan is done leaves it without EOI.
    """
    body = tail.rstrip(b"\x00")
    return len(tail) - len(body) <= JPEG_PADDING_MAX and body.endswith(b"\xff\xd9")


def exif_datetime(path: Path, *, tz: tzinfo) -> datetime | None:
    """When the photo was taken, as an aware datetime, or None if the file doesn't say.

    DateTimeOriginal (with OffsetTimeOriginal) wins over IFD0 DateTime (with
    OffsetTime); without an offset the time is read in `tz`. Only OSError from
    opening or reading escapes.
    """
    with path.open("rb") as f:
        read = _file_reader(f)
        kind = sniff(read(0, SNIFF_BYTES))
        try:
            return _dispatch(kind, read, tz)
        except (struct.error, ValueError, IndexError, OverflowError):
            return None


def _dispatch(kind: MediaType | None, read: _Read, tz: tzinfo) -> datetime | None:
    if kind == JPEG:
        return _jpeg_datetime(read(0, EXIF_SCAN_BYTES), tz)
    if kind in (TIFF, CR2, ORF, RW2):  # DNG/NEF/ARW sniff as TIFF
        return _pick(*_tiff_tags(read), tz)
    if kind == RAF:  # big-endian offset and length of the embedded JPEG at 84
        offset, length = struct.unpack(">II", read(84, 8))
        return _jpeg_datetime(read(offset, min(length, EXIF_SCAN_BYTES)), tz)
    if kind in (HEIC, HEIF, AVIF):
        return _heif_datetime(read, tz)
    if kind == CR3:
        return _cr3_datetime(read(0, EXIF_SCAN_BYTES), tz)
    return None


def _file_reader(f: BinaryIO) -> _Read:
    """Positional reads that never seek past the end (a corrupt offset could make lseek fail)."""
    size = os.fstat(f.fileno()).st_size

    def read(offset: int, n: int) -> bytes:
        if offset < 0 or offset >= size:
            return b""
        f.seek(offset)
        return f.read(n)

    return read


def _bytes_reader(data: bytes) -> _Read:
    return lambda offset, n: data[offset : offset + n] if offset >= 0 else b""


def exif_block_datetime(block: bytes, *, tz: tzinfo) -> datetime | None:
    """`exif_datetime` of a JPEG whose EXIF block (`jpeg_exif`) is already in hand."""
    try:
        return _pick(*_tiff_tags(_bytes_reader(block)), tz) if block else None
    except (struct.error, ValueError, IndexError, OverflowError):
        return None


def _jpeg_datetime(data: bytes, tz: tzinfo) -> datetime | None:
    block = jpeg_exif(data)
    return _pick(*_tiff_tags(_bytes_reader(block)), tz) if block else None


def jpeg_exif(data: bytes | memoryview) -> bytes:
    """The TIFF block of the `Exif\\0\\0` APP1 segment, found by walking the markers of
    `data` (a JPEG's first EXIF_SCAN_BYTES, perhaps a view of a read buffer: nothing
    but the block is copied) up to SOS; b"" when there is none."""
    if data[:2] != b"\xff\xd8":
        return b""
    pos = 2
    while pos + 4 <= len(data):  # pos grows every turn
        if data[pos] != 0xFF:
            return b""
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
        elif marker in (0xDA, 0xD9):  # start of scan / end of image: no EXIF ahead
            return b""
        else:
            length = struct.unpack_from(">H", data, pos + 2)[0]
            if length < 2:
                return b""
            body = data[pos + 4 : pos + 2 + length]
            if marker == 0xE1 and body[:6] == b"Exif\x00\x00":
                return bytes(body[6:])
            pos += 2 + length
    return b""


def _tiff_tags(read: _Read) -> tuple[_Tags, _Tags]:
    """IFD0 and the Exif sub-IFD. Only these two are read, so cyclic offsets can't loop."""
    header = read(0, 8)
    order = {b"II": "<", b"MM": ">"}.get(header[:2])
    if order is None or len(header) < 8:
        return {}, {}
    main = _read_ifd(read, order, struct.unpack_from(order + "I", header, 4)[0])
    pointer = main.get(_EXIF_IFD)
    exif = _read_ifd(read, order, pointer) if isinstance(pointer, int) else {}
    return main, exif


def _read_ifd(read: _Read, order: str, offset: int) -> _Tags:
    """The wanted tags of one IFD: text as bytes (capped), pointers as int."""
    raw = read(offset, 2)
    if len(raw) < 2:
        return {}
    count = min(struct.unpack(order + "H", raw)[0], _MAX_IFD_ENTRIES)
    table = read(offset + 2, 12 * count)
    found: _Tags = {}
    for pos in range(0, len(table) - 11, 12):
        tag, kind, n = struct.unpack_from(order + "HHI", table, pos)
        field = table[pos + 8 : pos + 12]
        if tag not in _WANTED:
            continue
        if kind in (4, 13) and n == 1:  # LONG / IFD pointer
            found[tag] = struct.unpack(order + "I", field)[0]
        elif kind in (2, 7):  # ASCII / UNDEFINED
            at = struct.unpack(order + "I", field)[0]
            found[tag] = field[:n] if n <= 4 else read(at, min(n, _MAX_TEXT))
    return found


def _pick(main: _Tags, exif: _Tags, tz: tzinfo) -> datetime | None:
    original = _moment(exif.get(_ORIGINAL), exif.get(_OFFSET_ORIGINAL), tz)
    return original or _moment(main.get(_DATETIME), exif.get(_OFFSET), tz)


def _moment(stamp: bytes | int | None, offset: bytes | int | None, tz: tzinfo) -> datetime | None:
    """`YYYY:MM:DD HH:MM:SS` in the EXIF offset if valid, else in tz; zeros and blanks → None."""
    match = _STAMP.match(stamp) if isinstance(stamp, bytes) else None
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError:  # 0000:00:00, month 13, …
        return None
    return naive.replace(tzinfo=_zone_of(offset) or tz)


def _zone_of(offset: bytes | int | None) -> tzinfo | None:
    match = _ZONE.fullmatch(offset.rstrip(b"\x00 ")) if isinstance(offset, bytes) else None
    if match is None or int(match[2]) > 23 or int(match[3]) > 59:
        return None
    sign = -1 if match[1] == b"-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """ISO-BMFF boxes in data[start:end] as (type, payload start, end); each step advances."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield kind, pos + header, min(pos + size, end)
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


def _uint(data: bytes, pos: int, size: int) -> int:
    if pos + size > len(data):
        raise ValueError("truncated box")
    return int.from_bytes(data[pos : pos + size], "big")


def _heif_datetime(read: _Read, tz: tzinfo) -> datetime | None:
    """`meta` → `iinf` finds the item of type Exif, `iloc` says where it is."""
    data = read(0, EXIF_SCAN_BYTES)
    meta = _child(data, 0, len(data), b"meta")
    if meta is None:
        return None
    start, end = meta[0] + 4, meta[1]  # full box: skip version and flags
    iinf, iloc = _child(data, start, end, b"iinf"), _child(data, start, end, b"iloc")
    item = _exif_item(data[iinf[0] : iinf[1]]) if iinf else None
    place = _item_extent(data[iloc[0] : iloc[1]], item) if iloc and item is not None else None
    if place is None:
        return None
    payload = read(place[0], min(place[1] or _MAX_EXIF_PAYLOAD, _MAX_EXIF_PAYLOAD))
    skip = _uint(payload, 0, 4)  # offset of the TIFF header after these 4 bytes
    return _pick(*_tiff_tags(_bytes_reader(payload[4 + skip :])), tz)


def _exif_item(iinf: bytes) -> int | None:
    pos = 4 + (2 if iinf[0] == 0 else 4)
    for kind, body, stop in _boxes(iinf, pos, len(iinf)):
        version = iinf[body] if kind == b"infe" and body < stop else 0
        if version >= 2:  # item_ID, protection index, item_type
            id_size = 2 if version == 2 else 4
            if iinf[body + 6 + id_size : body + 10 + id_size] == b"Exif":
                return _uint(iinf, body + 4, id_size)
    return None


def _item_extent(iloc: bytes, wanted: int) -> tuple[int, int] | None:
    """(file offset, length) of the item's first extent; None unless stored in the file."""
    version = iloc[0]
    offset_size, length_size, base_size = iloc[4] >> 4, iloc[4] & 15, iloc[5] >> 4
    index_size = iloc[5] & 15 if version in (1, 2) else 0
    id_size = 2 if version < 2 else 4
    count, pos = _uint(iloc, 6, id_size), 6 + id_size
    for _ in range(count):  # each turn advances pos; _uint raises past the end
        item = _uint(iloc, pos, id_size)
        pos += id_size
        method = 0
        if version in (1, 2):
            method, pos = _uint(iloc, pos, 2) & 15, pos + 2
        base = _uint(iloc, pos + 2, base_size)  # after data_reference_index
        pos += 2 + base_size
        extents, pos = _uint(iloc, pos, 2), pos + 2
        first = pos + index_size
        if item == wanted:
            if method != 0 or extents == 0:
                return None
            offset = _uint(iloc, first, offset_size)
            return base + offset, _uint(iloc, first + offset_size, length_size)
        pos += extents * (index_size + offset_size + length_size)
    return None


def _cr3_datetime(data: bytes, tz: tzinfo) -> datetime | None:
    """CR3 keeps IFD0 and the Exif IFD as two TIFF blobs, CMT1 and CMT2, in a Canon uuid box."""
    moov = _child(data, 0, len(data), b"moov")
    for kind, body, stop in _boxes(data, *moov) if moov else ():
        if kind == b"uuid" and data[body : body + 16] == _CANON_UUID:
            main, exif = (_blob_ifd0(data, body + 16, stop, name) for name in (b"CMT1", b"CMT2"))
            return _pick(main, exif, tz)
    return None


def _blob_ifd0(data: bytes, start: int, end: int, kind: bytes) -> _Tags:
    box = _child(data, start, end, kind)
    return _tiff_tags(_bytes_reader(data[box[0] : box[1]]))[0] if box else {}
