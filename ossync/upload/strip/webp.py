"""WebP: RIFF chunks. The image (VP8, VP8L, ALPH, ANIM, ANMF) and ICC profile stay;
EXIF is scrubbed in place (Orientation alone at `all`), XMP cleaned (dropped at
`all`), unknown chunks dropped; the VP8X flags and the RIFF size follow.
"""

from __future__ import annotations

import struct

import ossync.upload.strip.exif as exif
import ossync.upload.strip.xmp as xmp
from ossync.upload.strip.base import CannotStrip, Plan, Read, exact

KEEP = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
XMP_FLAG, EXIF_FLAG = 0x04, 0x08
MAX_METADATA = 16 * 1024 * 1024
MAX_CHUNKS = 100_000


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)


def plan_webp(read: Read, size: int, level: str) -> Plan:
    head = exact(read, 0, 12, "the WebP header")
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        raise CannotStrip("not a WebP RIFF header")
    riff_end = min(8 + struct.unpack_from("<I", head, 4)[0], size)
    plan, pos, vp8x = Plan(), 12, None
    flags_now: dict[bytes, bool] = {}
    delta = 0
    for _ in range(MAX_CHUNKS):
        if pos + 8 > riff_end:
            break
        kind, length = struct.unpack("<4sI", exact(read, pos, 8, "a WebP chunk"))
        end = pos + 8 + length + length % 2
        if end > riff_end + length % 2:
            raise CannotStrip(f"the WebP chunk {kind!r} runs past the end")
        if kind == b"VP8X":
            vp8x = (pos, exact(read, pos + 8, length, "the VP8X chunk"))
        if kind in KEEP:
            pos = end
            continue
        if length > MAX_METADATA:
            raise CannotStrip("a WebP metadata chunk is over 16 MiB")
        data = exact(read, pos + 8, length, "a WebP chunk")
        new = _metadata(kind, data, level, plan)
        if new is not None:
            plan.replace(pos, min(end, riff_end), new)
            delta += len(new) - (min(end, riff_end) - pos)
        flags_now[kind] = new is None or bool(new)
        pos = end
    if riff_end < size:
        plan.note("data after the WebP's end")
        plan.replace(riff_end, size)
    if delta:
        plan.replace(4, 8, struct.pack("<I", riff_end - 8 + delta))
    if vp8x is not None and flags_now:
        _flags(plan, vp8x, flags_now)
    return plan


def _flags(plan: Plan, vp8x: tuple[int, bytes], present: dict[bytes, bool]) -> None:
    at, body = vp8x
    flags = body[0]
    for kind, bit in ((b"EXIF", EXIF_FLAG), (b"XMP ", XMP_FLAG)):
        if kind in present:
            flags = flags | bit if present[kind] else flags & ~bit
    if flags != body[0]:
        plan.replace(at + 8, at + 9, bytes((flags,)))


def _metadata(kind: bytes, data: bytes, level: str, plan: Plan) -> bytes | None:
    if kind == b"EXIF":
        prefix = b"Exif\x00\x00" if data.startswith(b"Exif\x00\x00") else b""
        block = data[len(prefix):]
        if level == "all":
            plan.note("EXIF except Orientation")
            small = exif.minimal_exif(exif.orientation_of(block), exif.block_order(block))
            return b"" if small is None else _chunk(b"EXIF", small)
        cleaned, removed = exif.scrub_block(block, level)
        for what in removed:
            plan.note(what)
        return _chunk(b"EXIF", prefix + cleaned) if removed else None
    if kind == b"XMP ":
        if level == "all":
            plan.note("XMP")
            return b""
        found = xmp.clean(data, level)
        if found is None:
            return None
        for what in found[1]:
            plan.note(what)
        return _chunk(b"XMP ", found[0])
    plan.note(f"WebP chunk {kind.decode('latin-1').strip()}")
    return b""
