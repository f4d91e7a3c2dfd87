"""read_facts: one pass gives the hashes, the real type and the file's last bytes."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from ossync.core.crc64 import crc64
from ossync.intake.media import JPEG_TAIL_BYTES
from ossync.upload.prepare import NotAnImage, read_facts


@pytest.mark.parametrize("size", [10, 70, (1 << 20) - 3, (1 << 20) + 5, 3 * (1 << 20)])
def test_facts_match_the_bytes(tmp_path: Path, size: int) -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * (size // 256 + 1)
    data = data[:size] if size > 4 else data[:4]
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    facts = read_facts(path)
    assert facts.size == len(data)
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert facts.crc64 == crc64(data)
    assert facts.tail == data[-JPEG_TAIL_BYTES:]
    assert facts.media.content_type == "image/jpeg"


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_text("hello")
    with pytest.raises(NotAnImage):
        read_facts(path)


def _layouts() -> dict[str, bytes]:
    """JPEGs whose EXIF date the file reader finds, or rightly does not."""
    from .test_media import DT, DTO, JFIF, SCAN, STAMP, jpeg, segment, tiff

    app2 = segment(0xE2, b"\0" * 65000)
    return {
        "date": jpeg(tiff({}, {DTO: STAMP})),
        "big-endian": jpeg(tiff({DT: STAMP}, order=">")),
        "no-exif": jpeg(None),
        "exif-after-scan": b"\xff\xd8" + JFIF + SCAN[:-2] + segment(
            0xE1, b"Exif\x00\x00" + tiff({DT: STAMP})),
        "exif-near-the-limit": jpeg(tiff({DT: STAMP}), before=JFIF + app2),
        "exif-beyond-the-limit": jpeg(tiff({DT: STAMP}), before=JFIF + app2 * 3),
        "exif-across-the-limit": jpeg(tiff({DT: STAMP}, {DTO: STAMP}),
                                      before=JFIF + app2 * 2 + segment(0xE2, b"\0" * 1018)),
        "big-file": jpeg(tiff({}, {DTO: STAMP}), after=b"\0" * (3 << 20)),
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_a_jpegs_date_comes_from_the_bytes_hashed(tmp_path: Path, layout: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The date read with the hash is the one reading the file again would give."""
    from zoneinfo import ZoneInfo

    from ossync.intake.media import exif_datetime
    from ossync.upload import prepare

    path = tmp_path / "x.jpg"
    path.write_bytes(_layouts()[layout])
    tz = ZoneInfo("Asia/Shanghai")
    expected = exif_datetime(path, tz=tz)
    fallback = datetime.fromtimestamp(path.stat().st_mtime_ns / 1e9, tz)
    facts = read_facts(path)

    def no_second_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read again for its date")

    monkeypatch.setattr(prepare, "exif_datetime", no_second_read)
    assert prepare.choose_date(facts, "exif", tz) == (expected or fallback)
    assert (expected is not None) == (layout in ("date", "big-endian", "exif-near-the-limit",
                                                 "big-file"))


def test_other_types_still_read_their_date_from_the_file(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from ossync.upload.prepare import choose_date

    from .test_media import DT, STAMP, tiff

    path = tmp_path / "x.tif"
    path.write_bytes(tiff({DT: STAMP}) + b"\0" * 1000)
    tz = ZoneInfo("Asia/Shanghai")
    facts = read_facts(path)
    assert facts.exif is None
    assert choose_date(facts, "exif", tz) == datetime(2024, 5, 6, 7, 8, 9, tzinfo=tz)
