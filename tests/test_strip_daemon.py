"""strip_metadata end to end: the real daemon, the local endpoint, the ledger's two stories,
dedupe by the original, a file that cannot be cleaned held (never sent), then released."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ossync.config import load_config
from ossync.core.crc64 import crc64
from ossync.ledger import Content, Ledger
from ossync.localoss import LocalOSS
from ossync.upload.strip import private_dir
from tests import camera_files as cf
from tests.daemon_helpers import bucket, daemon_thread, file_states, uploads, wait_for
from tests.metadata_readers import exiftool, pillow_tags, pixels

from .queue_helpers import claim, record

pytestmark = pytest.mark.slow


def test_daemon_strips_dedupes_and_holds(make_config: Callable[..., Path], drop: Path,
                                         local_oss: LocalOSS, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = make_config(watch=[{"path": str(drop), "label": "drop",
                               "strip_metadata": "private"}])
    config = load_config(path)
    ledger_path = config.ledger
    originals = {n: cf.MAKERS[n](tmp_path / f"src.{n}") for n in ("jpeg", "heic", "png")}
    gif = tmp_path / "src.gif"
    cf.picture().save(gif, "GIF")
    with daemon_thread(config):
        for name, src in originals.items():
            shutil.copy(src, drop / f"photo.{name}")
        shutil.copy(gif, drop / "anim.gif")
        wait_for(lambda: len(uploads(ledger_path)) == 3, 30, "three uploads")
        shutil.copy(originals["jpeg"], drop / "again.jpeg")  # the same photo, another name
        wait_for(lambda: file_states(ledger_path).get(str(drop / "again.jpeg"), ("",))[0]
                 == "uploaded", 30, "the alias")
        states = file_states(ledger_path)
        assert states[str(drop / "anim.gif")][0] == "failed"
        assert states[str(drop / "anim.gif")][1].startswith("cannot strip metadata from anim.gif")
    stored = bucket(local_oss)
    assert len(stored) == 3  # dedupe: the second drop is an alias of the first object
    records = {Path(u.path).suffix: u for u in uploads(ledger_path)}
    for name, src in originals.items():
        upload = records["." + name]
        data = stored[upload.key]
        original = src.read_bytes()
        assert upload.sha256 == hashlib.sha256(original).hexdigest()  # the original's story
        assert upload.size == len(original) and upload.crc64 == str(crc64(original))
        assert upload.sent_sha256 == hashlib.sha256(data).hexdigest()  # what was sent
        assert upload.sent_size == len(data) and upload.sent_crc64 == str(crc64(data))
        assert upload.strip_level == "private" and "EXIF GPS IFD" in (upload.stripped or "")
        assert upload.sha256[:8] in upload.key  # the key carries the original's hash
        out = tmp_path / f"stored.{name}"
        out.write_bytes(data)  # the object as the endpoint stored it
        assert pixels(out) == pixels(src)
        assert pillow_tags(out)["gps"] == {}
        tags = exiftool(out)
        assert tags.get("IFD0:Orientation") == "Rotate 90 CW"
        assert not [k for k in tags if "GPS" in k or k.endswith(("SerialNumber", "OwnerName",
                                                                 ":Artist", ":Creator"))]
    assert not list(Path(private_dir()).iterdir())  # every cleaned copy removed
    assert str(drop) not in str(private_dir())

    from ossync.cli.main import main

    assert main(["show", str(drop / "photo.jpeg"), "--ledger", str(ledger_path)]) == 0
    shown = capsys.readouterr().out
    assert "stripped:" in shown and "EXIF GPS IFD" in shown and "(strip_metadata: private)" in shown


def test_a_changed_level_releases_held_files(make_config: Callable[..., Path], drop: Path,
                                             local_oss: LocalOSS, tmp_path: Path) -> None:
    gif = drop / "anim.gif"
    cf.picture().save(gif, "GIF")
    held = make_config(watch=[{"path": str(drop), "label": "drop", "strip_metadata": "all"}])
    config = load_config(held)
    with daemon_thread(config):
        wait_for(lambda: file_states(config.ledger).get(str(gif), ("",))[0] == "failed", 30,
                 "the GIF held")
    assert not bucket(local_oss)
    released = make_config(watch=[{"path": str(drop), "label": "drop"}])
    with daemon_thread(load_config(released)):
        wait_for(lambda: file_states(config.ledger).get(str(gif), ("",))[0] == "uploaded", 30,
                 "the GIF sent once strip_metadata is none")
    assert list(bucket(local_oss).values()) == [gif.read_bytes()]


def test_the_ledger_keeps_both_stories(ledger_at: str) -> None:
    from ossync.ledger import Sighting
    from ossync.targets import UploadResult

    with Ledger.open(ledger_at) as ledger:
        ledger.note([Sighting("/d/a.jpg", "d", 100, 1, 0.0)])
        row = claim(ledger)
        assert row is not None
        content = Content("a" * 64, 100, 7, "b" * 64, 80, 9, "location", "EXIF GPS IFD")
        result = UploadResult("k.jpg", "http://x/k.jpg", 80, '"e"', 9)
        upload = record(ledger, row, result, bucket="bk", sha256="a" * 64,
                        content_type="image/jpeg", mtime_ns=1, content=content)
        assert (upload.size, upload.crc64, upload.sent_size, upload.sent_crc64) == (
            100, "7", 80, "9")
        assert ledger.file_by_path("/d/a.jpg").size == 100  # type: ignore[union-attr]
        assert ledger.stored("bk", "a" * 64, "b" * 64) == upload
        assert ledger.stored("bk", "a" * 64, "a" * 64) is None  # not these bytes
        item = ledger.item("/d/a.jpg")
        assert item is not None and item.stripped == "EXIF GPS IFD"
        assert item.strip_level == "location" and item.sent_sha256 == "b" * 64
