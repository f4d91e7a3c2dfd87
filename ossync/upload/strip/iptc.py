"""IPTC-IIM datasets and the Photoshop image resources that carry them (JPEG APP13,
TIFF tags 33723 and 34377), cleaned dataset by dataset.

Resources that copy EXIF or XMP (0x0422, 0x0423, 0x0424) go at every level: they
are copies ossync does not filter field by field. Thumbnails (0x0409, 0x040C) go
at `private`; the IPTC digest (0x0425) goes whenever the IPTC it checks changed.
"""

from __future__ import annotations

import struct

from ossync.upload.strip.base import CannotStrip, at_least

LOCATION = {26: "Content Location Code", 27: "Content Location Name", 90: "City",
            92: "Sub-location", 95: "Province-State", 100: "Country Code",
            101: "Country Name"}
PRIVATE = {80: "By-line", 85: "By-line Title", 118: "Contact", 122: "Writer-Editor"}
IPTC_RESOURCE, DIGEST = 0x0404, 0x0425
COPIES = {0x0422: "Photoshop EXIF copy", 0x0423: "Photoshop EXIF copy",
          0x0424: "Photoshop XMP copy"}
THUMBNAILS = {0x0409: "Photoshop thumbnail", 0x040C: "Photoshop thumbnail"}
SIGNATURES = (b"8BIM", b"PHUT", b"DCSR", b"AgHg", b"MeSa")
MAX_RESOURCES = 10_000


def clean_iptc(data: bytes, level: str) -> tuple[bytes, list[str]] | None:
    """IPTC-IIM datasets (`1C rec ds len data`…) without the level's fields."""
    out, removed, pos = bytearray(), [], 0
    while pos < len(data):
        if data[pos] == 0:  # padding at the end (TIFF pads to 4 bytes)
            if data[pos:].strip(b"\x00"):
                raise CannotStrip("IPTC data continues after zero padding")
            break
        if data[pos] != 0x1C or pos + 5 > len(data):
            raise CannotStrip("IPTC data is not a run of datasets")
        record, dataset, length = data[pos + 1], data[pos + 2], data[pos + 3] << 8 | data[pos + 4]
        if length & 0x8000:
            raise CannotStrip("IPTC extended-length datasets are not stripped")
        end = pos + 5 + length
        if end > len(data):
            raise CannotStrip("an IPTC dataset runs past its block")
        name = LOCATION.get(dataset) or (PRIVATE.get(dataset)
                                         if at_least(level, "private") else None)
        if record == 2 and name:
            removed.append(f"IPTC {name}")
        else:
            out += data[pos:end]
        pos = end
    return (bytes(out), sorted(set(removed))) if removed else None


def clean_resources(data: bytes, level: str) -> tuple[bytes, list[str]] | None:
    """Photoshop image resources (`8BIM id name size data`…), cleaned; None: unchanged."""
    out, removed, pos, changed_iptc = bytearray(), [], 0, False
    pieces: list[tuple[int, bytes]] = []
    for count in range(MAX_RESOURCES + 1):
        if pos >= len(data) or not data[pos:].strip(b"\x00"):
            break
        if count == MAX_RESOURCES or data[pos : pos + 4] not in SIGNATURES:
            raise CannotStrip("Photoshop resources are damaged")
        rid = struct.unpack_from(">H", data, pos + 4)[0] if pos + 6 <= len(data) else -1
        name_len = data[pos + 6] if pos + 6 < len(data) else 0
        head = 6 + 1 + name_len + ((1 + name_len) % 2)
        if pos + head + 4 > len(data):
            raise CannotStrip("a Photoshop resource is cut short")
        size = struct.unpack_from(">I", data, pos + head)[0]
        end = pos + head + 4 + size + size % 2
        if end > len(data) + size % 2:
            raise CannotStrip("a Photoshop resource runs past its block")
        body = data[pos + head + 4 : pos + head + 4 + size]
        header = data[pos : pos + head]
        if rid in COPIES or (rid in THUMBNAILS and at_least(level, "private")):
            removed.append(COPIES.get(rid) or THUMBNAILS[rid])
        elif rid == IPTC_RESOURCE and (cleaned := clean_iptc(body, level)) is not None:
            body, names = cleaned
            removed += names
            changed_iptc = True
            pieces.append((rid, header + struct.pack(">I", len(body)) + body
                           + b"\x00" * (len(body) % 2)))
        else:
            pieces.append((rid, data[pos:end]))
        pos = end
    for rid, piece in pieces:
        if rid == DIGEST and changed_iptc:
            removed.append("Photoshop IPTC digest")
            continue
        out += piece
    return (bytes(out), sorted(set(removed))) if removed else None
