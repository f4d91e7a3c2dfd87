"""PNG: chunk by chunk. Image data, palette, transparency, colour (iCCP, sRGB, gAMA,
cHRM, cICP, …), physical size and animation chunks always stay; eXIf is scrubbed in
place (Orientation alone at `all`), the XMP iTXt cleaned (dropped at `all`), text
chunks dropped at `all` (author fields at `private`), and chunks ossync cannot read
field by field (ImageMagick's raw profiles, C2PA, vendor chunks) dropped.
"""

from __future__ import annotations

import struct
import zlib

import ossync.upload.strip.exif as exif
import ossync.upload.strip.xmp as xmp
from ossync.upload.strip.base import CannotStrip, Plan, Read, at_least, exact

SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEEP = frozenset({b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCV", b"mDCv",
                  b"cLLI", b"cLLi", b"sBIT", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL",
                  b"fcTL", b"fdAT", b"oFFs", b"sCAL", b"pCAL"})
TEXT = frozenset({b"tEXt", b"zTXt", b"iTXt"})
PRIVATE_KEYWORDS = frozenset({"author", "artist", "owner", "source"})
XMP_KEYWORD = b"XML:com.adobe.xmp"
MAX_CHUNKS = 100_000
MAX_METADATA = 16 * 1024 * 1024


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def plan_png(read: Read, size: int, level: str) -> Plan:
    if read(0, 8) != SIGNATURE:
        raise CannotStrip("not a PNG signature")
    plan, pos = Plan(), 8
    for _ in range(MAX_CHUNKS):
        head = exact(read, pos, 8, "a PNG chunk")
        length, kind = struct.unpack(">I4s", head)
        end = pos + 12 + length
        if end > size:
            raise CannotStrip(f"the PNG chunk {kind!r} runs past the end")
        if kind == b"IEND":
            if end < size:
                plan.note("data after the PNG's end")
                plan.replace(end, size)
            return plan
        if not (kind[0] & 0x20) or kind in KEEP:  # critical chunks: IHDR, PLTE, IDAT
            pos = end
            continue
        if length > MAX_METADATA:
            raise CannotStrip(f"the PNG chunk {kind.decode('latin-1')} is over 16 MiB")
        data = exact(read, pos + 8, length, "a PNG chunk")
        replacement = _chunk(kind, data, level, plan)
        if replacement is not None:
            plan.replace(pos, end, replacement)
        pos = end
    raise CannotStrip("too many PNG chunks")


def _chunk(kind: bytes, data: bytes, level: str, plan: Plan) -> bytes | None:
    """The chunk's replacement (b"" drops it), or None to keep it as it is."""
    name = kind.decode("latin-1")
    if kind == b"eXIf":
        return _exif(data, level, plan)
    if kind in TEXT:
        keyword = data.split(b"\x00", 1)[0]
        if kind == b"iTXt" and keyword == XMP_KEYWORD:
            return _xmp(data, level, plan)
        if keyword.lower().startswith(b"raw profile type"):
            plan.note(f"PNG {keyword.decode('latin-1')}")
            return b""
        text = keyword.decode("latin-1").lower()
        if level == "all" or (at_least(level, "private") and text in PRIVATE_KEYWORDS):
            plan.note(f"PNG text {keyword.decode('latin-1')}")
            return b""
        return None
    if kind == b"tIME":
        if level != "all":
            return None
        plan.note("PNG tIME")
        return b""
    plan.note(f"PNG chunk {name}")
    return b""


def _exif(data: bytes, level: str, plan: Plan) -> bytes | None:
    prefix = b"Exif\x00\x00" if data.startswith(b"Exif\x00\x00") else b""
    block = data[len(prefix):]
    if level == "all":
        plan.note("EXIF except Orientation")
        small = exif.minimal_exif(exif.orientation_of(block), exif.block_order(block))
        return b"" if small is None else chunk(b"eXIf", small)
    cleaned, removed = exif.scrub_block(block, level)
    if not removed:
        return None
    for what in removed:
        plan.note(what)
    return chunk(b"eXIf", prefix + cleaned)


def _xmp(data: bytes, level: str, plan: Plan) -> bytes | None:
    if level == "all":
        plan.note("XMP")
        return b""
    # keyword \0, compression flag, method, language \0, translated keyword \0, text
    at = len(XMP_KEYWORD) + 1
    fields = data[at + 2 :].split(b"\x00", 2)
    if len(data) < at + 2 or len(fields) != 3:
        raise CannotStrip("the PNG XMP chunk is damaged")
    compressed = data[at] == 1
    language, translated, text = fields
    if compressed:
        try:
            text = zlib.decompressobj().decompress(text, MAX_METADATA)
        except zlib.error:
            raise CannotStrip("the PNG XMP chunk does not decompress") from None
    cleaned = xmp.clean(text, level)
    if cleaned is None:
        return None
    packet, removed = cleaned
    for what in removed:
        plan.note(what)
    return chunk(b"iTXt", XMP_KEYWORD + b"\x00\x00\x00" + language + b"\x00" + translated
                 + b"\x00" + packet)
