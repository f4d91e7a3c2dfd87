"""media: magic-byte sniffing, the JPEG end marker, and EXIF capture times from real files.

Fixtures are built byte by byte here (no imaging library), so each test shows
exactly which structure the parser has to understand.
"""

from __future__ import annotations

import random
import struct
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ossync.intake import media
from ossync.intake.media import MediaType, exif_datetime, jpeg_complete, sniff, sniff_with_name

SHANGHAI = ZoneInfo("Asia/Shanghai")
DTO, DT, EXIF_PTR, OFFSET, OFFSET_ORIG = 0x9003, 0x0132, 0x8769, 0x9010, 0x9011
STAMP = b"2024:05:06 07:08:09\x00"
OTHER = b"2019:01:02 03:04:05\x00"
TAKEN = datetime(2024, 5, 6, 7, 8, 9)


# --- fixture builders ---------------------------------------------------------------------


def tiff(
    ifd0: dict[int, bytes | int] | None = None,
    exif: dict[int, bytes | int] | None = None,
    *,
    order: str = "<",
    magic: int = 42,
    extra: bytes = b"",
) -> bytes:
    """A TIFF structure: header (+ `extra`, e.g. CR2's marker), IFD0, Exif IFD, then values."""
    ifd0 = dict(ifd0 or {})
    exif = dict(exif or {})
    start = 8 + len(extra)
    exif_at = start + 2 + 12 * (len(ifd0) + bool(exif)) + 4
    values_at = exif_at + (2 + 12 * len(exif) + 4 if exif else 0)
    values = bytearray()

    def ifd(entries: dict[int, bytes | int]) -> bytes:
        out = struct.pack(order + "H", len(entries))
        for tag, value in sorted(entries.items()):
            if isinstance(value, int):
                out += struct.pack(order + "HHII", tag, 4, 1, value)
            elif len(value) <= 4:
                out += struct.pack(order + "HHI", tag, 2, len(value)) + value.ljust(4, b"\0")
            else:
                out += struct.pack(order + "HHII", tag, 2, len(value), values_at + len(values))
                values.extend(value)
        return out + struct.pack(order + "I", 0)

    if exif:
        ifd0[EXIF_PTR] = exif_at
    body = ifd(ifd0) + (ifd(exif) if exif else b"")
    mark = b"II" if order == "<" else b"MM"
    return mark + struct.pack(order + "HI", magic, start) + extra + body + bytes(values)


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


JFIF = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
SCAN = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x12\x34\x56\xff\x00\x78" + b"\xff\xd9"


def jpeg(exif_tiff: bytes | None, *, before: bytes = JFIF, after: bytes = b"") -> bytes:
    app1 = segment(0xE1, b"Exif\x00\x00" + exif_tiff) if exif_tiff is not None else b""
    return b"\xff\xd8" + before + app1 + after + SCAN


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


def heif(exif_tiff: bytes | None, *, brand: bytes = b"heic", iloc_version: int = 0) -> bytes:
    """ftyp + meta (hdlr, iinf with an `Exif` item 2, iloc) + mdat holding the Exif payload."""
    ftyp = box(b"ftyp", brand + b"\0\0\0\0" + b"mif1" + brand)
    infe = [full_box(b"infe", 2, struct.pack(">HH", 1, 0) + b"hvc1" + b"\0")]
    if exif_tiff is not None:
        infe.append(full_box(b"infe", 2, struct.pack(">HH", 2, 0) + b"Exif" + b"\0"))
    iinf = full_box(b"iinf", 0, struct.pack(">H", len(infe)) + b"".join(infe))
    payload = struct.pack(">I", 6) + b"Exif\x00\x00" + (exif_tiff or b"")

    def meta(mdat_at: int) -> bytes:
        sizes = bytes([0x44, 0x00 if iloc_version < 1 else 0x40])  # offset 4, length 4, base 0/4
        items = []
        places = ((1, mdat_at + 8 + len(payload), 4), (2, mdat_at + 8, len(payload)))
        for item, offset, length in places:
            if iloc_version == 0:
                items.append(struct.pack(">HHHII", item, 0, 1, offset, length))
            else:  # construction method 0, base_offset carries the offset, extent offset 0
                items.append(struct.pack(">HHHIHII", item, 0, 0, offset, 1, 0, length))
        iloc = full_box(b"iloc", iloc_version, sizes + struct.pack(">H", 2) + b"".join(items))
        hdlr = full_box(b"hdlr", 0, b"\0\0\0\0pict" + b"\0" * 13)
        return full_box(b"meta", 0, hdlr + iinf + iloc)

    mdat_at = len(ftyp) + len(meta(0))
    return ftyp + meta(mdat_at) + box(b"mdat", payload + b"\0\0\0\0")


def write(tmp_path: Path, data: bytes, name: str = "photo.jpg") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def pad(head: bytes) -> bytes:
    return head.ljust(media.SNIFF_BYTES, b"\0")


# --- sniff --------------------------------------------------------------------------------

BMP_HEAD = b"BM" + struct.pack("<IHHII", 70, 0, 0, 54, 40)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", media.JPEG),
        (b"\xff\xd8\xff\xe1\x12\x34Exif", media.JPEG),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", media.PNG),
        (b"GIF87a\x01\x00", media.GIF),
        (b"GIF89a\x01\x00", media.GIF),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", media.WEBP),
        (BMP_HEAD, media.BMP),
        (b"II*\x00\x08\x00\x00\x00", media.TIFF),
        (b"MM\x00*\x00\x00\x00\x08", media.TIFF),
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00", media.CR2),
        (b"IIRO\x08\x00\x00\x00", media.ORF),
        (b"IIRS\x08\x00\x00\x00", media.ORF),
        (b"MMOR\x00\x00\x00\x08", media.ORF),
        (b"IIU\x00\x18\x00\x00\x00", media.RW2),
        (b"FUJIFILMCCD-RAW 0201FF383501", media.RAF),
        (box(b"ftyp", b"heic\0\0\0\0mif1heic"), media.HEIC),
        (box(b"ftyp", b"heix\0\0\0\0mif1heix"), media.HEIC),
        (box(b"ftyp", b"hevc\0\0\0\0msf1hevc"), media.HEIC),
        (box(b"ftyp", b"mif1\0\0\0\0mif1heic"), media.HEIC),  # generic major, specific compat
        (box(b"ftyp", b"mif1\0\0\0\0mif1miaf"), media.HEIF),
        (box(b"ftyp", b"msf1\0\0\0\0msf1"), media.HEIF),
        (box(b"ftyp", b"avif\0\0\0\0avifmif1miaf"), media.AVIF),
        (box(b"ftyp", b"avis\0\0\0\0avismsf1"), media.AVIF),
        (box(b"ftyp", b"crx \0\0\0\1crx isom"), media.CR3),
    ],
)
def test_sniff_recognises_magic(head: bytes, expected: MediaType) -> None:
    assert sniff(pad(head)) == expected
    assert sniff(head) == expected  # a file shorter than SNIFF_BYTES still sniffs


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello, world\n",
        b"<!DOCTYPE html><html><body>503 Service Unavailable",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
        b"PK\x03\x04\x14\x00\x00\x00",
        b"BMW 320d, 2019, low mileage\n",  # "BM" without a bitmap header
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        box(b"ftyp", b"isom\0\0\2\0isomiso2avc1mp41"),  # an MP4 video
        b"\xff\xd8",  # too short to be a JPEG
    ],
)
def test_sniff_rejects_non_images(head: bytes) -> None:
    assert sniff(head) is None


def test_media_types_are_canonical() -> None:
    assert (media.JPEG.content_type, media.JPEG.ext) == ("image/jpeg", ".jpg")
    assert (media.HEIC.ext, media.HEIF.ext, media.AVIF.ext) == (".heic", ".heif", ".avif")
    assert media.CR3.content_type == "image/x-canon-cr3"
    assert media.RAF.content_type == "image/x-fuji-raf"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("IMG_0001.DNG", media.DNG),
        ("DSC_0001.nef", media.NEF),
        ("DSC01234.ARW", media.ARW),
        ("scan.tif", media.TIFF),
        ("scan.tiff", media.TIFF),
        ("noextension", media.TIFF),
    ],
)
def test_sniff_with_name_names_tiff_based_raw(name: str, expected: MediaType) -> None:
    assert sniff_with_name(pad(b"II*\x00\x08\x00\x00\x00"), name) == expected
    assert sniff_with_name(pad(b"MM\x00*\x00\x00\x00\x08"), name) == expected


def test_sniff_with_name_trusts_content_over_name() -> None:
    assert sniff_with_name(pad(b"not really a photo\n"), "IMG_0001.jpg") is None
    assert sniff_with_name(pad(b"not really a photo\n"), "IMG_0001.dng") is None
    assert sniff_with_name(pad(b"\xff\xd8\xff\xe0"), "IMG_0001.dng") == media.JPEG
    assert sniff_with_name(pad(b"II*\x00\x10\x00\x00\x00CR\x02\x00"), "x.nef") == media.CR2


# --- jpeg_complete ------------------------------------------------------------------------


def test_jpeg_complete_needs_end_of_image() -> None:
    whole = jpeg(None)
    assert jpeg_complete(whole[-media.JPEG_TAIL_BYTES :])
    assert jpeg_complete(b"\xff\xd9")
    assert not jpeg_complete(whole[:-1][-media.JPEG_TAIL_BYTES :])  # scanner still writing
    assert not jpeg_complete(whole[:-20])
    assert not jpeg_complete(b"")


def test_jpeg_complete_allows_bounded_zero_padding() -> None:
    assert jpeg_complete(b"\x00\xff\xd9" + b"\x00" * media.JPEG_PADDING_MAX)
    assert not jpeg_complete(b"\xff\xd9" + b"\x00" * (media.JPEG_PADDING_MAX + 1))
    assert not jpeg_complete(b"\x00" * media.JPEG_TAIL_BYTES)  # preallocated, never written


# --- exif_datetime: JPEG ------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
def test_jpeg_date_time_original_in_given_zone(tmp_path: Path, order: str) -> None:
    data = jpeg(tiff({DT: OTHER}, {DTO: STAMP}, order=order))
    got = exif_datetime(write(tmp_path, data), tz=SHANGHAI)
    assert got == TAKEN.replace(tzinfo=SHANGHAI)
    assert got is not None and got.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("order", ["<", ">"])
def test_jpeg_offset_time_original_wins_over_zone(tmp_path: Path, order: str) -> None:
    data = jpeg(tiff({}, {DTO: STAMP, OFFSET_ORIG: b"-05:30\x00"}, order=order))
    got = exif_datetime(write(tmp_path, data), tz=SHANGHAI)
    assert got == TAKEN.replace(tzinfo=timezone(-timedelta(hours=5, minutes=30)))
    assert got is not None and got.astimezone(timezone.utc).hour == 12


def test_jpeg_falls_back_to_ifd0_date_time(tmp_path: Path) -> None:
    data = jpeg(tiff({DT: STAMP}))
    assert exif_datetime(write(tmp_path, data), tz=timezone.utc) == TAKEN.replace(
        tzinfo=timezone.utc
    )


def test_ifd0_date_time_uses_offset_time_not_offset_time_original(tmp_path: Path) -> None:
    data = jpeg(tiff({DT: STAMP}, {OFFSET: b"+02:00\x00", OFFSET_ORIG: b"+09:00\x00"}))
    got = exif_datetime(write(tmp_path, data), tz=SHANGHAI)
    assert got is not None and got.utcoffset() == timedelta(hours=2)


def test_invalid_offset_is_ignored(tmp_path: Path) -> None:
    data = jpeg(tiff({}, {DTO: STAMP, OFFSET_ORIG: b"   :  \x00"}))
    assert exif_datetime(write(tmp_path, data), tz=SHANGHAI) == TAKEN.replace(tzinfo=SHANGHAI)


def test_zero_date_time_original_falls_back_then_gives_none(tmp_path: Path) -> None:
    zero = b"0000:00:00 00:00:00\x00"
    with_fallback = jpeg(tiff({DT: STAMP}, {DTO: zero}))
    assert exif_datetime(write(tmp_path, with_fallback), tz=SHANGHAI) == TAKEN.replace(
        tzinfo=SHANGHAI
    )
    assert exif_datetime(write(tmp_path, jpeg(tiff({DT: zero}, {DTO: zero}))), tz=SHANGHAI) is None


@pytest.mark.parametrize(
    "value", [b"    :  :     :  :  \x00", b"\x00" * 20, b"", b"2024:13:06 07:08:09\x00", b"yes"]
)
def test_blank_or_invalid_values_give_none(tmp_path: Path, value: bytes) -> None:
    data = jpeg(tiff({DT: value}, {DTO: value}))
    assert exif_datetime(write(tmp_path, data), tz=SHANGHAI) is None


def test_jpeg_without_exif_gives_none(tmp_path: Path) -> None:
    assert exif_datetime(write(tmp_path, jpeg(None)), tz=SHANGHAI) is None


def test_jpeg_skips_other_app1_segments(tmp_path: Path) -> None:
    xmp = segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")
    data = jpeg(tiff({}, {DTO: STAMP}), before=JFIF + xmp + b"\xff\xff")  # + fill bytes
    assert exif_datetime(write(tmp_path, data), tz=SHANGHAI) == TAKEN.replace(tzinfo=SHANGHAI)


def test_jpeg_stops_at_start_of_scan(tmp_path: Path) -> None:
    late = b"\xff\xd8" + JFIF + SCAN[:-2] + segment(0xE1, b"Exif\x00\x00" + tiff({DT: STAMP}))
    assert exif_datetime(write(tmp_path, late), tz=SHANGHAI) is None


def test_jpeg_exif_beyond_scan_limit_is_not_read(tmp_path: Path) -> None:
    filler = segment(0xE2, b"\0" * 65000) * 3  # ~195 KB of APP2 before the EXIF
    data = jpeg(tiff({DT: STAMP}), before=JFIF + filler)
    assert exif_datetime(write(tmp_path, data), tz=SHANGHAI) is None
    near = jpeg(tiff({DT: STAMP}), before=JFIF + segment(0xE2, b"\0" * 65000))
    assert exif_datetime(write(tmp_path, near), tz=SHANGHAI) is not None


# --- exif_datetime: TIFF and TIFF-based RAW -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("scan.tif", tiff({DT: OTHER}, {DTO: STAMP})),
        ("scan_be.tif", tiff({DT: OTHER}, {DTO: STAMP}, order=">")),
        ("IMG_0001.DNG", tiff({DT: OTHER}, {DTO: STAMP})),
        ("DSC_0001.NEF", tiff({DT: OTHER}, {DTO: STAMP}, order=">")),
        ("IMG_0001.CR2", tiff({DT: OTHER}, {DTO: STAMP}, extra=b"CR\x02\x00\0\0\0\0")),
        ("P0001.ORF", tiff({DT: OTHER}, {DTO: STAMP}, magic=0x4F52)),  # "IIRO"
        ("P0001_be.ORF", tiff({DT: OTHER}, {DTO: STAMP}, order=">", magic=0x4F52)),  # "MMOR"
        ("P0001.RW2", tiff({DT: OTHER}, {DTO: STAMP}, magic=0x55)),  # "IIU\0"
    ],
)
def test_tiff_based_files(tmp_path: Path, name: str, data: bytes) -> None:
    path = write(tmp_path, data, name)
    assert sniff(path.read_bytes()[: media.SNIFF_BYTES]) is not None
    assert exif_datetime(path, tz=SHANGHAI) == TAKEN.replace(tzinfo=SHANGHAI)


def test_tiff_with_ifd_after_image_data(tmp_path: Path) -> None:
    """libtiff writes the IFD after the pixels, so it can lie far beyond the first 128 KB."""
    body = tiff({DT: STAMP})
    image = b"\x7f" * 300_000
    moved = bytearray(body[:4] + struct.pack("<I", 8 + len(image)) + image + body[8:])
    # shift the one string offset the builder wrote by the size of the image data
    entry = 8 + len(image) + 2
    tag, kind, n, at = struct.unpack_from("<HHII", moved, entry)
    struct.pack_into("<HHII", moved, entry, tag, kind, n, at + len(image))
    got = exif_datetime(write(tmp_path, bytes(moved), "big.tif"), tz=SHANGHAI)
    assert got == TAKEN.replace(tzinfo=SHANGHAI)


def test_raf_embedded_jpeg(tmp_path: Path) -> None:
    embedded = jpeg(tiff({}, {DTO: STAMP}, order=">"))
    head = b"FUJIFILMCCD-RAW 0201FF383501".ljust(84, b"\0")
    data = head + struct.pack(">II", 100, len(embedded)) + b"\0" * 8 + embedded
    assert exif_datetime(write(tmp_path, data, "DSCF0001.RAF"), tz=SHANGHAI) == TAKEN.replace(
        tzinfo=SHANGHAI
    )


# --- exif_datetime: ISO-BMFF (HEIC, AVIF, CR3) --------------------------------------------


@pytest.mark.parametrize(
    ("brand", "iloc_version", "order"),
    [(b"heic", 0, ">"), (b"heic", 1, "<"), (b"avif", 0, "<"), (b"mif1", 1, ">")],
)
def test_heif_exif_item(tmp_path: Path, brand: bytes, iloc_version: int, order: str) -> None:
    data = heif(
        tiff({DT: OTHER}, {DTO: STAMP, OFFSET_ORIG: b"+01:00\x00"}, order=order),
        brand=brand,
        iloc_version=iloc_version,
    )
    path = write(tmp_path, data, "IMG_0001.heic")
    assert sniff(data[: media.SNIFF_BYTES]) in (media.HEIC, media.HEIF, media.AVIF)
    got = exif_datetime(path, tz=SHANGHAI)
    assert got == TAKEN.replace(tzinfo=timezone(timedelta(hours=1)))


def test_heif_without_exif_item_gives_none(tmp_path: Path) -> None:
    assert exif_datetime(write(tmp_path, heif(None), "IMG_0002.heic"), tz=SHANGHAI) is None


def test_cr3_cmt_boxes(tmp_path: Path) -> None:
    canon = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
    cmt1 = box(b"CMT1", tiff({DT: OTHER}))
    cmt2 = box(b"CMT2", tiff({DTO: STAMP, OFFSET_ORIG: b"+09:00\x00"}))  # Exif IFD as IFD0
    moov = box(
        b"moov", box(b"uuid", canon + box(b"CNCV", b"CanonCR3_001/00.09.00/00.00.00") + cmt1 + cmt2)
    )
    data = box(b"ftyp", b"crx \0\0\0\1crx isom") + moov + box(b"mdat", b"\0" * 32)
    got = exif_datetime(write(tmp_path, data, "IMG_0001.CR3"), tz=timezone.utc)
    assert got == TAKEN.replace(tzinfo=timezone(timedelta(hours=9)))
    only_ifd0 = box(b"ftyp", b"crx \0\0\0\1crx isom") + box(b"moov", box(b"uuid", canon + cmt1))
    got = exif_datetime(write(tmp_path, only_ifd0, "IMG_0002.CR3"), tz=timezone.utc)
    assert got == datetime(2019, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


# --- exif_datetime: hostile and broken files ----------------------------------------------


def cyclic_tiff() -> bytes:
    """IFD0 at 8 whose Exif pointer and next-IFD pointer both lead back to itself."""
    entries = struct.pack("<HHII", EXIF_PTR, 4, 1, 8) + struct.pack("<HHII", 0x0100, 4, 1, 64)
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2) + entries + struct.pack("<I", 8)


@pytest.mark.parametrize(
    "data",
    [
        cyclic_tiff(),
        jpeg(cyclic_tiff()),
        # Exif pointer to an IFD claiming 65535 entries; string offset far past the end
        b"II*\x00"
        + struct.pack("<IHHHII", 8, 1, EXIF_PTR, 4, 1, 26)
        + b"\0" * 4
        + struct.pack("<H", 0xFFFF)
        + b"\x03\x90\x02\x00" * 40,
        tiff({DT: b"x" * 20}, {DTO: b"y" * 20})[:30] + struct.pack("<I", 0xFFFFFFF0) * 8,
        tiff({}, {DTO: STAMP}).replace(b"2024", b"\xff\xff\xff\xff"),
        b"MM\x00*\xff\xff\xff\xf0",  # IFD0 beyond the end of the file
        b"II*\x00",  # header only
    ],
)
def test_corrupt_files_give_none_quickly(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, data, "corrupt.tif")
    started = time.monotonic()
    assert exif_datetime(path, tz=SHANGHAI) is None
    assert time.monotonic() - started < 1.0


def test_huge_string_count_reads_only_a_little(tmp_path: Path) -> None:
    data = bytearray(tiff({DT: STAMP}))
    entry = 8 + 2
    tag, kind, _, at = struct.unpack_from("<HHII", data, entry)
    struct.pack_into("<HHII", data, entry, tag, kind, 0xFFFFFFFF, at)  # 4 GiB "string"
    got = exif_datetime(write(tmp_path, bytes(data), "huge.tif"), tz=SHANGHAI)
    assert got == TAKEN.replace(tzinfo=SHANGHAI)  # the first 64 bytes still hold the stamp


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("t.jpg", jpeg(tiff({DT: OTHER}, {DTO: STAMP, OFFSET_ORIG: b"+01:00\x00"}))),
        ("t.tif", tiff({DT: OTHER}, {DTO: STAMP}, order=">")),
        ("t.heic", heif(tiff({DT: OTHER}, {DTO: STAMP}), iloc_version=1)),
    ],
)
def test_every_truncation_is_none_or_right_never_an_error(
    tmp_path: Path, name: str, data: bytes
) -> None:
    whole = exif_datetime(write(tmp_path, data, name), tz=SHANGHAI)
    assert whole is not None
    seen = set()
    for size in range(len(data)):
        got = exif_datetime(write(tmp_path, data[:size], name), tz=SHANGHAI)
        # cut inside DateTimeOriginal → IFD0 DateTime; cut inside the offset → tz
        assert got is None or got.replace(tzinfo=None) in (TAKEN, datetime(2019, 1, 2, 3, 4, 5))
        seen.add(got)
    assert None in seen
    cut_in_app1 = exif_datetime(write(tmp_path, data[:40], name), tz=SHANGHAI)
    assert cut_in_app1 is None


@pytest.mark.parametrize("seed", range(3))
def test_random_corruption_never_raises(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    samples = [
        jpeg(tiff({DT: OTHER}, {DTO: STAMP, OFFSET_ORIG: b"+01:00\x00"})),
        tiff({DT: OTHER}, {DTO: STAMP}, order=">"),
        heif(tiff({DT: OTHER}, {DTO: STAMP}), iloc_version=1),
    ]
    path = tmp_path / "fuzz"
    for _ in range(300):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        got = exif_datetime(path, tz=SHANGHAI)
        assert got is None or got.tzinfo is not None


@pytest.mark.parametrize(
    "data", [b"", b"just some text\n", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n" + b"\0" * 30]
)
def test_non_exif_files_give_none(tmp_path: Path, data: bytes) -> None:
    assert exif_datetime(write(tmp_path, data, "x.jpg"), tz=SHANGHAI) is None


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        exif_datetime(tmp_path / "gone.jpg", tz=SHANGHAI)


def test_pillow_written_jpeg_cross_check(tmp_path: Path) -> None:
    """An independent writer: Pillow's EXIF, when Pillow happens to be installed."""
    image_module = pytest.importorskip("PIL.Image")
    exif = image_module.Exif()
    exif[DT] = "2019:01:02 03:04:05"
    exif.get_ifd(EXIF_PTR)[DTO] = "2024:05:06 07:08:09"
    exif.get_ifd(EXIF_PTR)[OFFSET_ORIG] = "+03:00"
    path = tmp_path / "pillow.jpg"
    image_module.new("RGB", (8, 8), "red").save(path, exif=exif)
    assert sniff(path.read_bytes()[: media.SNIFF_BYTES]) == media.JPEG
    assert jpeg_complete(path.read_bytes()[-media.JPEG_TAIL_BYTES :])
    got = exif_datetime(path, tz=SHANGHAI)
    assert got == TAKEN.replace(tzinfo=timezone(timedelta(hours=3)))


def test_libheif_written_heic_cross_check(tmp_path: Path) -> None:
    """An independent HEIF writer (libheif via pillow-heif), when it happens to be installed."""
    heif_module = pytest.importorskip("pillow_heif")
    image_module = pytest.importorskip("PIL.Image")
    heif_module.register_heif_opener()
    exif = image_module.Exif()
    exif.get_ifd(EXIF_PTR)[DTO] = "2024:05:06 07:08:09"
    path = tmp_path / "libheif.heic"
    image_module.new("RGB", (16, 16), "blue").save(path, exif=exif)
    assert sniff(path.read_bytes()[: media.SNIFF_BYTES]) == media.HEIC
    assert exif_datetime(path, tz=SHANGHAI) == TAKEN.replace(tzinfo=SHANGHAI)
