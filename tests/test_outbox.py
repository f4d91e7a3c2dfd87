"""The outbox's senders against a real receiver on 127.0.0.1 that checks every signature
with the Standard Webhooks reference library, on both ledgers: every event in order,
ids stable across retries, filters, giving up after max_age, one host per endpoint on a
shared ledger; the command hook without a shell; the heartbeat only while healthy."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from ossync.config import CommandHookConfig, HeartbeatConfig, WebhookConfig
from ossync.core.retry import RetryPolicy
from ossync.ledger import Ledger
from ossync.ledger.events import NewEvent, file_uploaded
from ossync.ledger.records import Upload
from ossync.outbox import CommandHook, Heartbeat, Sender, Webhook
from ossync.outbox.sender import Pace
from tests.daemon_helpers import wait_for
from tests.webhook_receiver import SECRET, Receiver, types_of

QUICK = Pace(RetryPolicy(initial=0.05, longest=0.2, jitter=0.0), max_age=3600.0, lease=60.0)


def _hook(receiver: Receiver, name: str = "app", **kw: Any) -> Webhook:
    return Webhook(WebhookConfig(name=name, url=receiver.url, secret=SECRET, timeout=5.0, **kw))


def _upload_event(ledger: Ledger, path: str, folder: str = "cam") -> int:
    upload = Upload(1, "b", f"k{path}", f"https://b.example/k{path}", "aa" * 32, 10, None,
                    None, "image/jpeg", path, folder, "2026-01-01T00:00:00.000Z", None)
    return ledger.record_event(file_uploaded(upload, path=path, folder=folder, host="h",
                                             size=10, sha256="aa" * 32, duplicate=False))


@contextmanager
def running(*senders: Sender) -> Iterator[None]:
    threads = [threading.Thread(target=s.run, name=f"test-sender-{i}")
               for i, s in enumerate(senders)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for sender in senders:
            sender.stop.set()
        for sender in senders:  # a sender asleep on the bell wakes when it rings
            sender.outbox.bell.ring()  # type: ignore[attr-defined]
        for thread in threads:
            thread.join(20)
            assert not thread.is_alive()


def test_every_event_in_order_signed_with_stable_ids_across_retries(ledger_at: str) -> None:
    with Receiver(fail_first=2) as receiver, Ledger.open(ledger_at, host="h") as ledger:
        ledger.take_cursor("app", 60.0)  # the endpoint exists before the events
        ids = [_upload_event(ledger, f"/d/{i}.jpg") for i in range(3)]
        stop = threading.Event()
        tally: list[tuple[str, str, int]] = []
        sender = Sender(_hook(receiver), ledger, stop, QUICK,
                        lambda *counted: tally.append(counted))
        with running(sender):
            taken = receiver.wait_taken(3)
        assert all(a.verified for a in receiver.attempts)
        assert [a.msg_id for a in receiver.attempts] == ["1", "1", "1", "2", "3"]
        assert [int(a.msg_id) for a in taken] == ids
        assert types_of(taken) == ["file.uploaded"] * 3
        assert taken[0].payload is not None
        assert set(taken[0].payload) == {"type", "timestamp", "data"}
        assert taken[0].payload["data"]["path"] == "/d/0.jpg"
        [cursor] = ledger.deliveries()
        assert (cursor.delivered, cursor.sent, cursor.failures, cursor.pending) == (3, 3, 2, 0)
        assert cursor.claimed_by is None  # let go at the stop
        assert tally.count(("app", "failed", 1)) == 2 and tally.count(("app", "sent", 1)) == 3


def test_filters_pass_events_over(ledger_at: str) -> None:
    with Receiver() as receiver, Ledger.open(ledger_at, host="h") as ledger:
        ledger.take_cursor("app", 60.0)
        _upload_event(ledger, "/d/other.jpg", folder="other")
        ledger.record_event(NewEvent("service.held", {"host": "h"}))
        wanted = _upload_event(ledger, "/d/cam.jpg")
        ledger.record_event(NewEvent("file.failed", {"path": "/d/x"}, "cam"))
        sender = Sender(_hook(receiver, events=("file.uploaded", "service.held"),
                              folders=("cam",)), ledger, threading.Event(), QUICK)
        with running(sender):
            receiver.wait_taken(2)
            wait_for(lambda: ledger.deliveries()[0].delivered == 4, 10, "the cursor at 4")
        assert receiver.taken_ids() == [2, wanted]
        assert ledger.deliveries()[0].sent == 2


def test_an_event_refused_past_max_age_is_given_up_on(ledger_at: str) -> None:
    with Receiver(status=500) as receiver, Ledger.open(ledger_at, host="h") as ledger:
        ledger.take_cursor("app", 60.0)
        ledger.take_cursor("ops", 60.0)
        _upload_event(ledger, "/d/a.jpg")
        _upload_event(ledger, "/d/b.jpg")
        pace = Pace(QUICK.retry, max_age=0.0, lease=60.0)
        tally: list[tuple[str, str, int]] = []
        with Receiver() as other, Ledger.open(ledger_at, host="h") as ledger2:
            senders = (Sender(_hook(receiver), ledger, threading.Event(), pace,
                              lambda *c: tally.append(c)),
                       Sender(_hook(other, name="ops"), ledger2, threading.Event(), QUICK))
            with running(*senders):
                wait_for(lambda: ("app", "given_up", 2) in tally, 10, "giving up")
                other.wait_taken(3)  # the other endpoint hears of it
        app = ledger.deliveries()[0]
        assert (app.delivered, app.given_up, app.sent) == (3, 2, 0)  # 3: its own news, passed
        assert types_of(other.taken()) == ["file.uploaded", "file.uploaded",
                                           "delivery.gave_up"]
        gave_up = other.taken()[2].payload
        assert gave_up is not None and gave_up["data"]["endpoint"] == "app"
        assert gave_up["data"]["count"] == 2 and "HTTP 500" in gave_up["data"]["error"]
        assert "delivery.gave_up" not in types_of(receiver.attempts)  # not its own news


def test_a_redirect_is_a_failure_never_followed(tmp_path: Path) -> None:
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("Location", "https://elsewhere.example/steal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with Ledger.open(tmp_path / "l.db", host="h") as ledger:
            _upload_event(ledger, "/d/a.jpg")
            [event] = ledger.events_after(0)
        hook = Webhook(WebhookConfig(name="r", url=f"http://127.0.0.1:{server.server_port}/h",
                                     secret=SECRET, timeout=5.0))
        error = hook.deliver(event, threading.Event())
        hook.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert error is not None and "HTTP 302" in error and "redirects are not followed" in error


@pytest.mark.postgres
def test_two_hosts_deliver_each_event_once(pg_server: Any) -> None:
    """Both hosts run a sender for the same endpoint on one database: one holds the
    cursor at a time, so the receiver gets every event exactly once."""
    url = pg_server.new_database()
    with Receiver() as receiver, Ledger.open(url, host="a") as a, \
            Ledger.open(url, host="b") as b:
        a.take_cursor("app", 60.0)
        a.release_cursor("app")
        senders = (Sender(_hook(receiver), a, threading.Event(), QUICK),
                   Sender(_hook(receiver), b, threading.Event(), QUICK))
        with running(*senders):
            for i in range(60):
                _upload_event(a if i % 2 else b, f"/d/{i}.jpg")
            receiver.wait_taken(60)
            wait_for(lambda: a.deliveries()[0].delivered == 60, 10, "the cursor at 60")
        assert receiver.taken_ids() == list(range(1, 61))
        assert len(receiver.attempts) == 60


# --- the command hook ----------------------------------------------------------------

SCRIPT = """
import json, os, sys
out = {"argv": sys.argv[1:], "stdin": json.load(sys.stdin), "env": dict(os.environ),
       "cwd": os.getcwd()}
open(os.environ["OSSYNC_EVENT_ID"] and sys.argv[1], "w").write(json.dumps(out))
print("line one\\nline \\x1b[31mtwo")
code = sys.argv[1] + ".exit"  # the environment is the hook's own: the test says here
sys.exit(int(open(code).read()) if os.path.exists(code) else 0)
"""


def test_the_command_hook_gets_each_value_as_one_argument_and_no_shell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", "must-not-leak-to-hooks")
    script = tmp_path / "hook.py"
    script.write_text(SCRIPT)
    record = tmp_path / "record.json"
    pwned = tmp_path / "pwned"
    odd = f"/d/$(touch {pwned}); echo `id` > {pwned} & x.jpg"
    with Ledger.open(tmp_path / "l.db", host="h") as ledger:
        _upload_event(ledger, odd)
        [event] = ledger.events_after(0)
    hook = CommandHook(CommandHookConfig((sys.executable, str(script), str(record), "{path}",
                                          "--url={url}", "{id}"), timeout=30.0), "h")
    caplog.set_level(logging.INFO, "ossync.outbox.command")
    assert hook.wants(event)
    assert hook.deliver(event, threading.Event()) is None
    got = json.loads(record.read_text())
    assert got["argv"] == [str(record), odd, f"--url=https://b.example/k{odd}", "1"]
    assert not pwned.exists()
    assert got["stdin"]["type"] == "file.uploaded" and got["stdin"]["data"]["path"] == odd
    assert got["env"]["OSSYNC_EVENT_ID"] == "1" and got["cwd"] == "/"
    assert "OSS_ACCESS_KEY_SECRET" not in got["env"]
    lines = [r.getMessage() for r in caplog.records if "on_upload (event 1)" in r.getMessage()]
    assert lines == ["on_upload (event 1): line one", "on_upload (event 1): line \\x1b[31mtwo"]
    Path(f"{record}.exit").write_text("3")
    assert hook.deliver(event, threading.Event()) == "exit status 3"


def test_the_command_hook_is_killed_at_its_timeout(tmp_path: Path) -> None:
    child = tmp_path / "child-alive"
    script = tmp_path / "slow.py"
    grandchild = f"import time; time.sleep(60); open({str(child)!r}, 'w')"
    script.write_text("import subprocess, sys, time\n"
                      f"subprocess.Popen([sys.executable, '-c', {grandchild!r}])\n"
                      "time.sleep(60)\n")
    with Ledger.open(tmp_path / "l.db", host="h") as ledger:
        _upload_event(ledger, "/d/a.jpg")
        [event] = ledger.events_after(0)
    hook = CommandHook(CommandHookConfig((sys.executable, str(script)), timeout=1.0), "h")
    assert hook.deliver(event, threading.Event()) == "killed after on_upload_timeout"
    stop = threading.Event()
    stop.set()
    assert "stopped with the daemon" in (hook.deliver(event, stop) or "")


# --- the heartbeat -------------------------------------------------------------------


def test_the_heartbeat_goes_while_healthy_and_never_while_held() -> None:
    pings: list[str] = []

    class Check(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            pings.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Check)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    problems: list[str] = []
    beat = Heartbeat(HeartbeatConfig(f"http://127.0.0.1:{server.server_port}/ping/abc", 60.0),
                     lambda: list(problems), threading.Event())
    try:
        with requests.Session() as session:
            assert beat.beat(session) and pings == ["/ping/abc"]
            problems.append("uploads held: the store refuses (503)")
            assert not beat.beat(session) and not beat.beat(session)
            assert pings == ["/ping/abc"]  # the ping is answered before beat() returns
            problems.clear()
            assert beat.beat(session) and len(pings) == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_each_host_runs_the_command_hook_for_its_own_uploads(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db", host="h") as ledger:
        _upload_event(ledger, "/d/mine.jpg")
        [event] = ledger.events_after(0)
    hook = CommandHook(CommandHookConfig(("/bin/true",)), "h")
    other = CommandHook(CommandHookConfig(("/bin/true",)), "elsewhere")
    assert hook.wants(event) and not other.wants(event)
    assert (hook.name, hook.cursor, other.cursor) == ("on_upload", "on_upload@h",
                                                      "on_upload@elsewhere")
