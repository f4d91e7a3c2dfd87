"""EXIF — a TIFF structure — scrubbed in place: entries leave their IFD, their data is
zeroed, and the block keeps its size, so whatever holds it (a JPEG segment, a PNG or
WebP chunk, a HEIF item, a whole TIFF file) keeps every offset.

Every read is bounded and every IFD visited once, so damaged or cyclic offsets end in
CannotStrip, never in a loop. Data another kept entry (or a strip of pixels) uses is
never zeroed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ossync.upload.strip.base import (
    CannotStrip,
    Plan,
    Read,
    apply,
    at_least,
    bytes_reader,
    exact,
)

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
              13: 4, 16: 8, 17: 8, 18: 8}
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
ORIENTATION, ICC_PROFILE, XMP, IPTC, PHOTOSHOP = 0x0112, 0x8773, 700, 33723, 34377
THUMB_OFFSET, THUMB_LENGTH, STRIPS, STRIP_COUNTS, TILES, TILE_COUNTS = (
    0x0201, 0x0202, 273, 279, 324, 325)
# Owner and device identity: what `private` removes besides the location.
PRIVATE_TAGS = {
    0x013B: "Artist", 0x013C: "HostComputer", 0x9C9D: "XPAuthor", 0xA430: "CameraOwnerName",
    0xA431: "BodySerialNumber", 0xA435: "LensSerialNumber", 0x927C: "MakerNote",
    0xC62F: "CameraSerialNumber", 0xFDE8: "OwnerName", 0xFDE9: "SerialNumber",
    0xFDEA: "Lens",
}
# What a TIFF file needs to be decoded, kept by `all` (plus Orientation and ICC).
STRUCTURE = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 277, 278, 279, 280, 281,
    282, 283, 284, 290, 291, 292, 293, 296, 297, 301, 317, 318, 319, 320, 321, 322, 323,
    324, 325, 330, 332, 333, 334, 336, 338, 339, 340, 341, 342, 347, 512, 513, 514, 515,
    517, 518, 519, 520, 521, 529, 530, 531, 532,
})
MAX_ENTRIES = 4096
MAX_IFDS = 4096

# A filter for a text-like value (XMP packet, IPTC, Photoshop resources): the new value
# (never longer) and what it removed; None when nothing changes.
ValueFilter = Callable[[bytes, str], "tuple[bytes, list[str]] | None"]


@dataclass(frozen=True)
class Entry:
    pos: int  # where its 12 bytes are
    tag: int
    kind: int
    count: int
    raw: bytes  # the 12 bytes
    value_at: int | None  # offset of out-of-line data, None if it sits in the entry
    size: int | None  # bytes of data (None: unknown type)


class TiffScrubber:
    """Plans the edits of one TIFF structure at `level`.

    `in_file`: the structure is a whole TIFF file (every IFD is a page, kept, and `all`
    keeps what decoding needs); else an EXIF block (IFD1 is a thumbnail, dropped by
    `private`; `all` keeps Orientation alone). `filters` clean XMP/IPTC/Photoshop values.
    """

    def __init__(self, read: Read, size: int, level: str, *, in_file: bool,
                 filters: dict[int, ValueFilter] | None = None) -> None:
        self.read, self.size, self.level, self.in_file = read, size, level, in_file
        self.filters = filters or {}
        header = exact(read, 0, 8, "the TIFF header")
        order = {b"II": "<", b"MM": ">"}.get(header[:2])
        if order is None:
            raise CannotStrip("the EXIF block has no TIFF header")
        self.order = order
        if struct.unpack_from(order + "H", header, 2)[0] != 42:
            raise CannotStrip("BigTIFF and other TIFF variants are not stripped")
        self.first = struct.unpack_from(order + "I", header, 4)[0]
        self.plan = Plan()
        self._keep: list[tuple[int, int]] = [(0, 8)]
        self._zero: list[tuple[int, int]] = []
        self._seen: set[int] = set()

    # --- reading ---------------------------------------------------------------

    def entries(self, offset: int) -> tuple[list[Entry], int]:
        """The entries of the IFD at `offset` and the offset of the next IFD."""
        if offset in self._seen:
            raise CannotStrip(f"EXIF IFD offsets loop (offset {offset})")
        self._seen.add(offset)
        if len(self._seen) > MAX_IFDS:
            raise CannotStrip("too many EXIF IFDs")
        count = struct.unpack(self.order + "H", exact(self.read, offset, 2, "an EXIF IFD"))[0]
        if count > MAX_ENTRIES:
            raise CannotStrip(f"an EXIF IFD claims {count} entries")
        table = exact(self.read, offset + 2, 12 * count + 4, "an EXIF IFD")
        found = []
        for i in range(count):
            raw = table[12 * i : 12 * i + 12]
            tag, kind, n = struct.unpack_from(self.order + "HHI", raw)
            unit = TYPE_SIZES.get(kind)
            size = None if unit is None else unit * n
            at = struct.unpack_from(self.order + "I", raw, 8)[0] if size and size > 4 else None
            found.append(Entry(offset + 2 + 12 * i, tag, kind, n, raw, at, size))
        return found, struct.unpack_from(self.order + "I", table, 12 * count)[0]

    def _value(self, entry: Entry) -> bytes:
        if entry.size is None:
            raise CannotStrip(f"EXIF tag 0x{entry.tag:04X} has an unknown type {entry.kind}")
        if entry.size > self.size:
            raise CannotStrip(f"EXIF tag 0x{entry.tag:04X} claims more bytes than the file has")
        if entry.value_at is None:
            return entry.raw[8 : 8 + entry.size]
        return exact(self.read, entry.value_at, entry.size, f"EXIF tag 0x{entry.tag:04X}")

    def _numbers(self, entry: Entry) -> list[int]:
        code = {3: "H", 4: "I", 13: "I", 16: "Q"}.get(entry.kind)
        if code is None:
            return []
        data = self._value(entry)
        return list(struct.unpack(f"{self.order}{entry.count}{code}", data))

    def _pointer(self, entry: Entry) -> int | None:
        numbers = self._numbers(entry)
        return numbers[0] if len(numbers) == 1 and numbers[0] else None

    # --- planning --------------------------------------------------------------

    def run(self) -> Plan:
        offset, index = self.first, 0
        while offset:
            if not 8 <= offset < self.size:
                raise CannotStrip(f"an EXIF IFD offset ({offset}) is past the end")
            entries, following = self.entries(offset)
            # In an EXIF block IFD1 is the thumbnail, and `private` drops it.
            cut = not self.in_file and bool(following) and at_least(self.level, "private")
            self._ifd(offset, entries, "ifd0" if index == 0 or self.in_file else "ifd1",
                      cut_next=cut)
            if cut:
                self._drop_chain(following)
                self.plan.note("EXIF thumbnail (IFD1)")
                break
            offset, index = following, index + 1
        self._finish()
        return self.plan

    def _decide(self, entry: Entry, kind: str) -> str | None:
        """Why `entry` goes (a name for the ledger), or None when it stays."""
        tag, level = entry.tag, self.level
        if tag == GPS_IFD:
            return "EXIF GPS IFD"
        if at_least(level, "private") and tag in PRIVATE_TAGS:
            return f"EXIF {PRIVATE_TAGS[tag]}"
        if level != "all" or kind in ("exif", "interop"):
            return None
        if tag == ORIENTATION or (self.in_file and (tag in STRUCTURE or tag == ICC_PROFILE)):
            return None
        return "EXIF except Orientation" if not self.in_file else "TIFF metadata tags"

    def _ifd(self, offset: int, entries: list[Entry], kind: str, *,
             cut_next: bool = False) -> None:
        kept: list[Entry] = []
        raws: list[bytes] = []
        for entry in entries:
            why = self._decide(entry, kind)
            if why is not None:
                self.plan.note(why)
                self._drop(entry)
                continue
            kept.append(entry)
            raws.append(self._keep_entry(entry, kind))
        table_end = offset + 2 + 12 * len(entries) + 4
        self._keep.append((offset, table_end))
        self._keep += self._pixel_ranges(kept)
        if raws != [e.raw for e in entries] or cut_next:
            # The next-IFD offset moves up behind the kept entries; the freed entries are
            # zeroed, but not the old offset's slot: some writers (piexif) leave it out of
            # sub-IFDs and put a value there.
            nxt = bytes(4) if cut_next else exact(self.read, table_end - 4, 4, "an EXIF IFD")
            body = struct.pack(self.order + "H", len(raws)) + b"".join(raws) + nxt
            end = max(table_end - 4, offset + len(body))
            self._patch(offset, body.ljust(end - offset, b"\x00"))

    def _keep_entry(self, entry: Entry, kind: str) -> bytes:
        """Keep an entry: recurse into sub-IFDs, clean text-like values; its new 12 bytes."""
        if entry.value_at is not None and entry.size is not None:
            self._keep.append((entry.value_at, entry.value_at + entry.size))
        if entry.tag in (EXIF_IFD, INTEROP_IFD) and kind != "interop":
            pointer = self._pointer(entry)
            if pointer is not None:
                sub, _ = self.entries(pointer)
                self._ifd(pointer, sub, "exif" if entry.tag == EXIF_IFD else "interop")
        cleaner = self.filters.get(entry.tag)
        if cleaner is None or entry.value_at is None or entry.size is None:
            return entry.raw
        cleaned = cleaner(self._value(entry), self.level)
        if cleaned is None:
            return entry.raw
        data, removed = cleaned
        for what in removed:
            self.plan.note(what)
        unit = TYPE_SIZES[entry.kind]
        data += b"\x00" * (-len(data) % unit)
        if len(data) > entry.size:
            raise CannotStrip(f"tag {entry.tag} grew when cleaned; it cannot be rewritten")
        self._patch(entry.value_at, data.ljust(entry.size, b"\x00"))
        return entry.raw[:4] + struct.pack(self.order + "I", len(data) // unit) + entry.raw[8:]

    def _drop(self, entry: Entry) -> None:
        if entry.size is None:
            raise CannotStrip(f"EXIF tag 0x{entry.tag:04X} has an unknown type {entry.kind}")
        if entry.value_at is not None:
            self._zero.append((entry.value_at, entry.value_at + entry.size))
        if entry.tag in (EXIF_IFD, GPS_IFD, INTEROP_IFD):
            pointer = self._pointer(entry)
            if pointer is not None and pointer not in self._seen:
                self._zero_ifd(pointer)

    def _zero_ifd(self, offset: int) -> int:
        """An IFD that goes whole: its table, values, sub-IFDs and pixels; returns the
        offset of the IFD after it."""
        if not 8 <= offset < self.size:
            return 0
        entries, following = self.entries(offset)
        self._zero.append((offset, offset + 2 + 12 * len(entries) + 4))
        for entry in entries:
            self._drop(entry)
        self._zero += self._pixel_ranges(entries)
        return following

    def _drop_chain(self, offset: int) -> None:
        while offset and offset not in self._seen:
            offset = self._zero_ifd(offset)

    def _pixel_ranges(self, entries: Iterable[Entry]) -> list[tuple[int, int]]:
        by_tag = {e.tag: e for e in entries}
        ranges = []
        for first, second in ((STRIPS, STRIP_COUNTS), (TILES, TILE_COUNTS),
                              (THUMB_OFFSET, THUMB_LENGTH)):
            if first in by_tag and second in by_tag:
                starts, lengths = self._numbers(by_tag[first]), self._numbers(by_tag[second])
                ranges += [(s, s + n) for s, n in zip(starts, lengths, strict=False)]
        return ranges

    # --- output ----------------------------------------------------------------

    def _patch(self, offset: int, data: bytes) -> None:
        self.plan.replace(offset, offset + len(data), data)
        self._keep.append((offset, offset + len(data)))

    def _finish(self) -> None:
        """Zero what was dropped, except bytes something kept still uses."""
        for start, end in _subtract(_union(self._zero), _union(self._keep)):
            end = min(end, self.size)
            if start < end:
                self.plan.replace(start, end, b"\x00" * (end - start))


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(ranges: list[tuple[int, int]], holes: list[tuple[int, int]]
              ) -> list[tuple[int, int]]:
    """`ranges` without the bytes in `holes` (both sorted and merged)."""
    out = []
    for start, end in ranges:
        for hole_start, hole_end in holes:
            if hole_end <= start or hole_start >= end:
                continue
            if hole_start > start:
                out.append((start, hole_start))
            start = max(start, hole_end)
            if start >= end:
                break
        if start < end:
            out.append((start, end))
    return out


def scrub_block(block: bytes, level: str) -> tuple[bytes, list[str]]:
    """An EXIF block (TIFF header first) cleaned in place: same length."""
    plan = TiffScrubber(bytes_reader(block), len(block), level, in_file=False).run()
    return apply(block, plan.sorted_edits()), plan.removed


def orientation_of(block: bytes) -> int | None:
    """IFD0's Orientation (1-8), or None when the block has none."""
    scrubber = TiffScrubber(bytes_reader(block), len(block), "none", in_file=False)
    if not scrubber.first:
        return None
    entries, _ = scrubber.entries(scrubber.first)
    for entry in entries:
        if entry.tag == ORIENTATION and entry.kind == 3 and entry.count == 1:
            value = struct.unpack_from(scrubber.order + "H", entry.raw, 8)[0]
            return int(value) if 1 <= value <= 8 else None
    return None


def minimal_exif(orientation: int | None, order: str = ">") -> bytes | None:
    """An EXIF block holding only Orientation (what `all` keeps), or None without one."""
    if orientation is None:
        return None
    head = (b"MM" if order == ">" else b"II") + struct.pack(order + "HI", 42, 8)
    entry = struct.pack(order + "HHIH", ORIENTATION, 3, 1, orientation) + b"\x00\x00"
    return head + struct.pack(order + "H", 1) + entry + struct.pack(order + "I", 0)


def empty_exif(order: str = ">") -> bytes:
    """A valid EXIF block with no entries at all."""
    head = (b"MM" if order == ">" else b"II") + struct.pack(order + "HI", 42, 8)
    return head + struct.pack(order + "HI", 0, 0)


def block_order(block: bytes) -> str:
    return "<" if block[:2] == b"II" else ">"
