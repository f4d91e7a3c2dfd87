"""Replicas seen from outside: `ossync show` lists every copy with its state and URL (and
`--json` a `copies` list), `ls`/`status --replica NAME` read one replica's copies, an
unknown replica is exit 1, `check-config` names each destination; `/metrics`,
`/v1/files` and the status page tell each replica on its own."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

from ossync.cli.main import main
from ossync.localoss import LocalOSS

from .daemon_helpers import config_for, daemon_thread, jpeg_bytes, uploaded_paths, wait_for
from .http_helpers import http_daemon, parse_metrics, value
from .test_replicas_daemon import _copied


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_show_ls_status_and_check_config_tell_every_destination(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
        tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    cfg = make_config(replicas=[{"name": "nas", "local": {"path": str(nas)}}])
    location = config_for(cfg).ledger
    with daemon_thread(config_for(cfg)):
        for i in range(3):
            (drop / f"IMG_{i}.jpg").write_bytes(jpeg_bytes(5_000 + i))
        wait_for(lambda: len(_copied(location, "nas")) == 3, 30, "three copies")
        wait_for(lambda: len(uploaded_paths(location)) == 3, 30, "three uploads")
    path = str(drop / "IMG_1.jpg")
    code, out, err = cli("show", "-c", str(cfg), path)
    assert code == 0, err
    assert f"copy nas: uploaded {nas.as_uri()}/" in out
    code, out, err = cli("show", "--json", "-c", str(cfg), path)
    (row,) = json.loads(out)
    (copy,) = row["copies"]
    assert copy["destination"] == "nas" and copy["state"] == "uploaded"
    assert (nas / copy["key"]).read_bytes() == (drop / "IMG_1.jpg").read_bytes()
    assert row["url"].startswith(local_oss.endpoint)  # the primary's, for apps
    code, out, err = cli("ls", "--json", "--replica", "nas", "-c", str(cfg))
    assert code == 0, err
    listed = json.loads(out)
    assert len(listed) == 3 and all(r["url"].startswith(nas.as_uri()) for r in listed)
    code, out, err = cli("status", "--replica", "nas", "-c", str(cfg))
    assert code == 0, err
    assert "replica:         nas" in out and "copied total" not in out
    assert "uploaded total:  3 object(s) for 3 path(s)" in out
    code, out, err = cli("ls", "--replica", "tape", "-c", str(cfg))
    assert code == 1 and "replicas with copies: nas" in err
    code, out, err = cli("check-config", "-c", str(cfg))
    assert code == 0, err
    assert f"  replica nas: local folder {nas}" in out
    assert "  watch drop copies to: nas" in out


def test_metrics_and_v1_files_per_destination(make_config: Callable[..., Path], drop: Path,
                                              tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    far = tmp_path / "far"
    far.mkdir()
    replicas = [{"name": "nas", "local": {"path": str(nas)}},
                {"name": "far", "local": {"path": str(far)}}]
    location = tmp_path / "ledger.db"
    with http_daemon(make_config, replicas=replicas, retry_initial_delay="0.2s") as run:
        far.rmdir()  # that replica is away: its copies wait, nothing else does
        (drop / "a.jpg").write_bytes(jpeg_bytes(6_000))
        wait_for(lambda: len(_copied(location, "nas")) == 1, 30, "the copy to nas")
        samples, _ = parse_metrics(run.get("/metrics").text)
        answer = run.get(f"/v1/files?path={drop / 'a.jpg'}").json()
        shown = run.get("/").text
    assert value(samples, "ossync_copies", destination="nas", state="uploaded") == 1
    assert value(samples, "ossync_copies", destination="far", state="uploaded") == 0
    assert (value(samples, "ossync_copies", destination="far", state="pending") or 0) + (
        value(samples, "ossync_copies", destination="far", state="uploading") or 0) == 1
    assert value(samples, "ossync_copy_oldest_pending_age_seconds", destination="nas") == 0
    (row,) = answer
    assert {c["destination"]: c["state"] for c in row["copies"]}["nas"] == "uploaded"
    assert row["state"] == "uploaded"  # the primary never waited for far
    assert "<h2>Replicas</h2>" in shown
    assert "<tr><td>nas</td><td>0</td><td>0</td><td>1</td><td>0</td>" in shown
