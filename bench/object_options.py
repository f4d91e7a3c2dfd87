"""What the object options cost each upload, against an upload without them: the time to
render them and sign the form, the bytes they add to the form, and an upload on
loopback to the local endpoint (`ossync local-oss`, its own process) with and without
them — where tags cost OSS a second request (PutObjectTagging).

    python bench/object_options.py [--files 200] [--size 100000] [--quick]

"Options" here are what a typical config sends: ossync's record (SHA-256, size, CRC-64,
folder, host, path, mtime, capture time), a storage class, Cache-Control,
Content-Disposition, one metadata entry and two tags.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import BUCKET, CREDS, ENV, jpeg, wait_until

from ossync.config.objects import ObjectSettings
from ossync.core.objectopts import ObjectOptions, tagging_xml
from ossync.targets.form_body import MultipartFileBody
from ossync.targets.oss import options as oss_options
from ossync.targets.oss.signing import post_form_fields
from ossync.targets.oss.target import OssTarget
from ossync.targets.post_policy import PostUpload
from ossync.upload.options import Place, options_for
from ossync.upload.prepare import read_facts

SETTINGS = ObjectSettings(storage_class="IA", cache_control="public, max-age=31536000",
                          content_disposition='inline; filename="{name}"',
                          tags=(("source", "ossync"), ("folder", "{folder}")),
                          metadata=(("project", "atlas"),))
KEY = "images/2026/12/06/IMG_0001-3fa2b1c9.jpg"


def _per_call(fn: object, count: int) -> float:
    """Microseconds per call, the median of five runs."""
    assert callable(fn)
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(count):
            fn()
        runs.append((time.perf_counter() - began) / count * 1e6)
    return statistics.median(runs)


def _options(photo: Path) -> ObjectOptions:
    facts = read_facts(photo)
    place = Place("camera1/IMG_0001.jpg", str(photo), "camera1", "scanner-3",
                  datetime.now(timezone.utc))
    return options_for(SETTINGS, facts, None, place, limit=8192, tz=timezone.utc)


def _form(extra: tuple[tuple[str, str], ...], size: int) -> dict[str, str]:
    return post_form_fields(CREDS, PostUpload(BUCKET, KEY, size, "image/jpeg", extra),
                            region="cn-hangzhou", now=datetime.now(timezone.utc),
                            lifetime=timedelta(minutes=15))


def local_costs(photo: Path, size: int) -> ObjectOptions:
    options = _options(photo)
    fields = oss_options.form_fields(options)
    render = _per_call(lambda: _options(photo), 300)
    plain_sign = _per_call(lambda: _form((), size), 2000)
    sign = _per_call(lambda: _form(fields, size), 2000)
    with photo.open("rb") as fh:
        plain_bytes = len(MultipartFileBody(_form((), size), fh, size, "image/jpeg"))
        option_bytes = len(MultipartFileBody(_form(fields, size), fh, size, "image/jpeg"))
    tagging = len(tagging_xml(options.tags)) + 700  # the PUT ?tagging request's headers
    print(f"render the options (templates, record, EXIF read): {render:.0f} us a file")
    print(f"sign the form: {plain_sign:.0f} us without options, {sign:.0f} us with "
          f"({len(fields)} more fields, each pinned in the policy)")
    print(f"form bytes besides the file: {plain_bytes - size} without, "
          f"{option_bytes - size} with (+{option_bytes - plain_bytes}); metadata "
          f"{options.meta_size} of OSS's 8192")
    print(f"tags: PostObject takes none, so +1 request (PutObjectTagging, ~{tagging} bytes)")
    return options


def loopback(folder: Path, files: int, size: int, options: ObjectOptions) -> None:
    log = folder / "local-oss.log"
    out = log.open("wb")
    server = subprocess.Popen([sys.executable, "-m", "ossync", "local-oss", "--root",
                               str(folder / "root"), "--bucket", BUCKET], stdout=out,
                              stderr=subprocess.STDOUT, env=ENV)
    try:
        wait_until(lambda: b"serving bucket" in log.read_bytes(), 60)
        endpoint = log.read_text().split(" at ", 1)[1].split(f"/{BUCKET}/")[0]
        target = OssTarget(endpoint=endpoint, bucket=BUCKET, region="cn-hangzhou",
                           credentials=CREDS)
        photos = []
        for i in range(files):
            photos.append(folder / f"p{i}.jpg")
            photos[-1].write_bytes(jpeg(size, i))
        untagged = ObjectOptions(**{**options.__dict__, "tags": ()})
        timings: dict[str, list[float]] = {"without": [], "untagged": [], "with": []}
        for i, photo in enumerate(photos):  # interleaved, so all see the same load
            for name, opts in (("without", None), ("untagged", untagged), ("with", options)):
                began = time.perf_counter()
                result = target.upload(photo, f"{name}/{i}.jpg", content_type="image/jpeg",
                                       options=opts)
                if result.tagging_owed and opts is not None:
                    target.tag(result.key, opts.tags)
                timings[name].append((time.perf_counter() - began) * 1000)
        target.close()
    finally:
        server.terminate()
        server.wait(30)
        out.close()
    plain, fields, full = (statistics.median(timings[n]) for n in ("without", "untagged", "with"))
    print(f"upload of {files} files of {size} bytes on loopback, median: {plain:.2f} ms "
          f"without options, {fields:.2f} ms with the options but no tags "
          f"({fields / plain:.2f}x), {full:.2f} ms with tags too ({full / plain:.2f}x: "
          "the PutObjectTagging round trip)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="50 files")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ossync-bench-options-"))
    try:
        photo = folder / "IMG_0001.jpg"
        photo.write_bytes(jpeg(args.size, 1))
        options = local_costs(photo, args.size)
        loopback(folder, 50 if args.quick else args.files, args.size, options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
