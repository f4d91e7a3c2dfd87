"""Independent readers of what a stripped photo still says: Pillow's getexif() and Debian's
exiftool (skipped where it is missing, except under CI=true, where that fails)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def pixels(path: Path) -> tuple[str, tuple[int, int], bytes]:
    """Decoded image data, to compare before and after (HEIF through pillow-heif)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(path) as img:
        img.load()
        return img.mode, img.size, img.tobytes()


def pillow_tags(path: Path) -> dict[str, Any]:
    """IFD0, Exif and GPS tags as Pillow reads them (ints as keys)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(path) as img:
        exif = img.getexif()
        return {"ifd0": dict(exif), "exif": dict(exif.get_ifd(EXIF_IFD)),
                "gps": dict(exif.get_ifd(GPS_IFD))}


def exiftool_path() -> str:
    found = shutil.which("exiftool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("exiftool is missing (apt-get install libimage-exiftool-perl)")
        pytest.skip("exiftool is missing (apt-get install libimage-exiftool-perl)")
    return found


def exiftool(path: Path) -> dict[str, Any]:
    """Every tag exiftool finds, duplicates and embedded documents included, as
    {"Group:Tag": value}."""
    done = subprocess.run([exiftool_path(), "-j", "-a", "-G1", "-ee", "-u", str(path)],
                          capture_output=True, text=True, timeout=60, check=True)
    found: dict[str, Any] = json.loads(done.stdout)[0]
    return found
