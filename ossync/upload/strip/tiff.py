"""TIFF files: every page's IFD scrubbed in place (see `exif.TiffScrubber`); XMP (700),
IPTC (33723) and Photoshop resources (34377) cleaned where they are, with a shorter
count. At `all` a page keeps only what decoding needs, Orientation and its ICC profile.
The strips and tiles are never touched.
"""

from __future__ import annotations

import ossync.upload.strip.iptc as iptc
import ossync.upload.strip.xmp as xmp
from ossync.upload.strip.base import CannotStrip, Plan, Read
from ossync.upload.strip.exif import IPTC, PHOTOSHOP, XMP, TiffScrubber, ValueFilter


def _xmp(data: bytes, level: str) -> tuple[bytes, list[str]] | None:
    return xmp.clean(data, level)


FILTERS: dict[int, ValueFilter] = {XMP: _xmp, IPTC: iptc.clean_iptc,
                                   PHOTOSHOP: iptc.clean_resources}


def plan_tiff(read: Read, size: int, level: str) -> Plan:
    if read(0, 4) not in (b"II*\x00", b"MM\x00*"):
        raise CannotStrip("not a TIFF header")
    return TiffScrubber(read, size, level, in_file=True, filters=FILTERS).run()
