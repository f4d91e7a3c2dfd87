"""read_facts: one pass gives the hashes, the real type and the file's last bytes."""

from __future__ import annotations

import hashlib
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
