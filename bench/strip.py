"""The per-file cost of strip_metadata, per format and level: plan the edits, write the
cleaned copy to the private temp dir (re-hashing the original as it goes), remove it.

    .venv/bin/python bench/strip.py [--rounds N] [--size WxH]

Camera-like files come from tests/camera_files.py (Pillow, pillow-heif, piexif: GPS,
serials, owner, maker note, thumbnail, XMP, IPTC). Prints milliseconds per file (median
of N rounds) and MB/s of original read; `hash only` is the SHA-256 + CRC-64 pass the
worker makes anyway, for scale.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ossync.intake.media import sniff
from ossync.upload.prepare import read_facts
from ossync.upload.strip import strip_file
from tests import camera_files as cf

LEVELS = ("location", "private", "all")


def _median_ms(work: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--size", default="4000x3000", help="picture size (default: 12 MP)")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    picture = cf.picture

    def big(w: int = width, h: int = height, mode: str = "RGB") -> object:
        from PIL import Image

        return picture(64, 48, mode).resize((w, h), Image.Resampling.BICUBIC)

    cf.picture = big  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"strip_metadata cost per file, {width}x{height}, median of {args.rounds}")
        print(f"{'format':<6} {'bytes':>11} {'hash only':>10} "
              + " ".join(f"{level:>10}" for level in LEVELS) + "   (ms; MB/s at private)")
        for name, make in cf.MAKERS.items():
            path = make(Path(tmp) / f"cam.{name}")
            data = path.read_bytes()
            kind = sniff(data[:64])
            assert kind is not None
            sha = hashlib.sha256(data).hexdigest()
            row = [_median_ms(lambda p=path: read_facts(p), args.rounds)]
            for level in LEVELS:
                def once(p: Path = path, lv: str = level, ct: str = kind.content_type,
                         digest: str = sha) -> None:
                    done = strip_file(p, ct, lv, sha256=digest)
                    assert done is not None
                    done.discard()
                row.append(_median_ms(once, args.rounds))
            rate = len(data) / (row[2] / 1000) / 1e6
            print(f"{name:<6} {len(data):>11,} " + " ".join(f"{ms:>10.2f}" for ms in row)
                  + f"   {rate:,.0f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
