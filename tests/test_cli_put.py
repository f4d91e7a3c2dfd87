"""`ossync put`, `ossync demo` and `ossync local-oss` as a user runs them: in-process and as
subprocesses, against the real local endpoint."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from ossync.cli import main
from ossync.localoss import LocalOSS

from .conftest import ACCESS_KEY_ID, BUCKET, SECRET
from .daemon_helpers import jpeg_bytes


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_put_prints_one_url_per_file(write_config: Callable[..., Path], local_oss: LocalOSS,
                                     oss_env: dict[str, str], tmp_path: Path) -> None:
    cfg = write_config(local_oss.endpoint)
    files = []
    for i, name in enumerate(["a.jpg", "b photo.JPG", "图.jpeg"]):
        path = tmp_path / name
        path.write_bytes(jpeg_bytes(2000 + i))
        files.append(path)
    code, out, err = _run("put", "-c", str(cfg), *map(str, files))
    assert code == 0, err
    urls = out.split()
    assert len(urls) == 3
    for path, url in zip(files, urls, strict=True):
        assert url.startswith(f"{local_oss.endpoint}/{BUCKET}/images/")
        stored = local_oss.app.buckets[BUCKET]
        key = requests.utils.unquote(url.split(f"/{BUCKET}/", 1)[1])
        opened = stored.open(key)
        assert opened is not None
        with opened[1] as fh:
            assert fh.read() == path.read_bytes()
    assert urls[1].endswith(".jpg") and "b%20photo-" in urls[1]  # real ext, lower-cased
    assert urls[2].endswith(".jpeg")


def test_put_names_each_failure_and_exits_1(write_config: Callable[..., Path],
                                            local_oss: LocalOSS, oss_env: dict[str, str],
                                            tmp_path: Path) -> None:
    cfg = write_config(local_oss.endpoint)
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes(1000))
    text = tmp_path / "fake.jpg"
    text.write_text("not an image")
    code, out, err = _run("put", "-c", str(cfg), "--json", str(good), str(text),
                          str(tmp_path / "missing.jpg"))
    assert code == 1
    rows = json.loads(out)
    assert [r["ok"] for r in rows] == [True, False, False]
    assert rows[0]["url"] and rows[0]["key"].endswith(".jpg")
    assert "fake.jpg" in err and "not a supported image" in err
    assert "missing.jpg" in err and "No such file" in err


def test_put_with_wrong_secret_says_which_setting(write_config: Callable[..., Path],
                                                  local_oss: LocalOSS, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", "a-wrong-secret-1234")
    cfg = write_config(local_oss.endpoint)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg_bytes(1000))
    code, out, err = _run("put", "-c", str(cfg), str(photo))
    assert code == 1
    assert "SignatureDoesNotMatch" in err and "OSS_ACCESS_KEY_SECRET" in err
    assert "a-wrong-secret-1234" not in out + err


def test_demo_round_trip_as_a_subprocess(tmp_path: Path) -> None:
    """The README's first quick-start command, minus the waiting for Ctrl-C."""
    done = subprocess.run(
        [sys.executable, "-m", "ossync", "demo", "--dir", str(tmp_path / "demo"), "--port", "0",
         "--once"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical to the file" in done.stdout
    assert "uploaded" in done.stderr


def test_local_oss_command_serves_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ossync", "local-oss", "--root", str(tmp_path / "r"),
         "--port", "0", "--bucket", BUCKET], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("local-oss: serving"), line
        url = line.split(" at ", 1)[1].split()[0].rstrip(",")
        resp = requests.get(url, timeout=10)
        assert resp.status_code == 403 and "AccessDenied" in resp.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_no_secret_in_any_output(write_config: Callable[..., Path], local_oss: LocalOSS,
                                 oss_env: dict[str, str], tmp_path: Path,
                                 capfd: pytest.CaptureFixture[str]) -> None:
    """Every command, good and bad, at debug level: the secret never shows."""
    cfg = write_config(local_oss.endpoint)
    photo = tmp_path / "s.jpg"
    photo.write_bytes(jpeg_bytes(500))
    outputs = [_run("check-config", "-c", str(cfg)),
               _run("put", "-c", str(cfg), "--log-level", "debug", str(photo)),
               _run("put", "-c", str(cfg), "--json", str(tmp_path / "nope.jpg"))]
    captured = capfd.readouterr()
    text = "".join(o + e for _, o, e in outputs) + captured.out + captured.err
    assert text and SECRET not in text


def test_put_records_in_the_ledger_and_never_uploads_twice(
    write_config: Callable[..., Path], local_oss: LocalOSS, oss_env: dict[str, str],
    tmp_path: Path, ledger_at: str
) -> None:
    cfg = write_config(local_oss.endpoint, ledger=ledger_at)
    photo = tmp_path / "once.jpg"
    photo.write_bytes(jpeg_bytes(3000))
    twin = tmp_path / "twin.jpg"
    twin.write_bytes(photo.read_bytes())
    code, first, err = _run("put", "-c", str(cfg), str(photo))
    assert code == 0, err
    code, second, err = _run("put", "-c", str(cfg), str(photo), str(twin))
    assert code == 0, err
    assert second.split() == [first.strip()] * 2
    assert len(list(local_oss.app.buckets[BUCKET].snapshot())) == 1
    code, out, _ = _run("url", "-c", str(cfg), "--public", str(twin))
    assert code == 0 and out.strip() == first.strip()
