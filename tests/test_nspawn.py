"""ossync under a real systemd: Debian 12 booted in systemd-nspawn (see
../shared/SYSTEMD-TESTING.md), ossync installed into /opt/ossync and the unit into
/etc/systemd/system as the README says, the local OSS endpoint running inside the
container as a transient unit (the container has no network).

Shown: `systemctl start` returns after READY=1 with the unit active (running) under its
dynamic user with the hardening on; a dropped file is uploaded; `kill -9` → restarted
with nothing lost; a hung daemon → killed by the watchdog and restarted; `systemctl
reload` picks up a new watch folder; a bad config → `failed`, no restart loop.

Needs root, systemd-nspawn and debootstrap (CI installs them). The Debian base tree is
built once (about a minute) into /var/cache/ossync-test-rootfs and reused; each run
boots a throw-away overlay of it. A container that cannot boot fails the test.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from .conftest import ACCESS_KEY_ID, BUCKET, SECRET
from .daemon_helpers import jpeg_bytes, wait_for

pytestmark = [pytest.mark.nspawn, pytest.mark.timeout(600)]
_T = TypeVar("_T")

ROOT = Path(__file__).parent.parent
ROOTFS = Path(os.environ.get("OSSYNC_TEST_ROOTFS", "/var/cache/ossync-test-rootfs"))
PACKAGES = "systemd,systemd-sysv,dbus,libnss-systemd,procps,python3,python3-venv"
GLIBC_MINOR = 36  # bookworm's glibc 2.36: binary wheels up to manylinux_2_36
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PORT = 9000
UNIT = "ossync"
DROP_IN = "/etc/systemd/system/ossync.service.d/failpoints.conf"
CONFIG = f"""\
oss:
  endpoint: http://127.0.0.1:{PORT}
  region: cn-hangzhou
  bucket: {BUCKET}
  connect_timeout: 500ms
  read_timeout: 500ms
settle_seconds: 500ms
date_source: mtime
watch:
  - path: /srv/drop
"""
# Reads the ledger in the container (as root, read-only) and prints path → state, url.
LEDGER_DUMP = """\
import json, sqlite3
db = sqlite3.connect("file:/var/lib/ossync/ledger.db?mode=ro", uri=True)
rows = db.execute("SELECT f.path, f.state, u.url, u.sha256 FROM files f "
                  "LEFT JOIN uploads u ON u.id = f.upload_id").fetchall()
print(json.dumps({p: {"state": s, "url": url, "sha256": h} for p, s, url, h in rows}))
"""
FETCH = """\
import hashlib, sys, urllib.request
print(hashlib.sha256(urllib.request.urlopen(sys.argv[1], timeout=5).read()).hexdigest())
"""


def wait_until(check: Callable[[], _T], timeout: float, what: str,
               detail: Callable[[], str] = lambda: "") -> _T:
    return wait_for(check, timeout, what, step=0.2, detail=detail)


# --- the host side: tools, base tree, wheels --------------------------------------

def require_host() -> None:
    if os.geteuid() != 0:
        pytest.fail("the nspawn test needs root (systemd-nspawn, nsenter)")
    missing = [t for t in ("systemd-nspawn", "debootstrap", "nsenter") if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: apt-get install systemd-container "
                    "debootstrap")


def mirror() -> str:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def base_tree() -> Path:
    """Debian 12 minbase with systemd and Python, built once and reused (a lock guards it)."""
    marker = ROOTFS / ".ossync-test-packages"
    ROOTFS.parent.mkdir(parents=True, exist_ok=True)
    with open(ROOTFS.with_name(ROOTFS.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == PACKAGES:
            return ROOTFS
        building = ROOTFS.with_name(ROOTFS.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm",
             str(building), mirror()], capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"debootstrap failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        (building / marker.name).write_text(PACKAGES)
        shutil.rmtree(ROOTFS, ignore_errors=True)
        building.rename(ROOTFS)
    return ROOTFS


def container_python(rootfs: Path) -> str:
    versions = sorted(p.name[len("python"):] for p in (rootfs / "usr/bin").glob("python3.*")
                      if p.name[len("python"):].replace(".", "").isdigit())
    assert versions, f"no python3 in {rootfs}"
    return versions[-1]


def runtime_requirements() -> list[str]:
    """ossync's dependencies plus the `local` extra (the endpoint), from its metadata."""
    reqs = []
    for req in importlib.metadata.requires("ossync") or []:
        name, _, marker = req.partition(";")
        if not marker or 'extra == "local"' in marker:
            reqs.append(name.strip())
    return reqs


def build_wheels(dest: Path, python: str, scratch: Path) -> None:
    """ossync's wheel and binary wheels of its dependencies for the container's Python."""
    source = scratch / "source"
    shutil.copytree(ROOT / "ossync", source / "ossync",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    arch = platform.machine()
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 4, -1)]
    platforms += [f"manylinux{legacy}_{arch}" for legacy in ("2014", "2010", "1")]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    for command in (
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(dest), str(source)],
        [*pip, "download", "--dest", str(dest), "--only-binary=:all:", "--python-version",
         python, "--implementation", "cp", *(f"--platform={p}" for p in platforms),
         *runtime_requirements()],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"building wheels for the container failed: {' '.join(command)}\n"
                        f"{done.stdout[-3000:]}{done.stderr[-3000:]}")


# --- the container --------------------------------------------------------------

class Container:
    """A booted throw-away overlay of the base tree; commands run in it via nsenter."""

    def __init__(self, rootfs: Path, hostdir: Path, log: Path) -> None:
        self.log = log
        self.name = f"ossync-test-{os.getpid()}"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["systemd-nspawn", "-D", str(rootfs), "-M", self.name, "-b", "--register=no",
                 "--keep-unit", "--volatile=overlay", "--private-network", "--console=pipe",
                 f"--bind-ro={hostdir}:/mnt/src"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            self.pid = wait_until(self._leader, 30, "the container's PID 1", self.boot_log)
            wait_until(self._booted, 60, "the container to boot", self.boot_log)
        except BaseException:
            self.close()
            raise

    def boot_log(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def _leader(self) -> int | None:
        if self.proc.poll() is not None:
            pytest.fail(f"systemd-nspawn exited ({self.proc.returncode}):\n{self.boot_log()}")
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        with contextlib.suppress(OSError):
            for child in children.read_text().split():
                status = Path(f"/proc/{child}/status").read_text()
                nspid = next(line.split()[1:] for line in status.splitlines()
                             if line.startswith("NSpid:"))
                if len(nspid) > 1 and nspid[-1] == "1":
                    return int(child)
        return None

    def _booted(self) -> bool:
        state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
        return state in ("running", "degraded")

    def run(self, *cmd: str, check: bool = True, input: bytes | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["nsenter", "-t", str(self.pid), "-a", *cmd],
                              env={"PATH": PATH, "LANG": "C.UTF-8"}, input=input,
                              capture_output=True, timeout=timeout)
        result = subprocess.CompletedProcess(done.args, done.returncode,
                                             done.stdout.decode(errors="replace"),
                                             done.stderr.decode(errors="replace"))
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {done.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def sh(self, script: str, check: bool = True) -> str:
        return self.run("sh", "-ec", script, check=check).stdout

    def write(self, path: str, data: bytes, mode: str = "0644") -> None:
        """Write in place under a temp name, then rename: as a well-behaved writer does."""
        self.run("sh", "-ec", f'cat > "{path}.tmp" && chmod {mode} "{path}.tmp" && '
                 f'mv "{path}.tmp" "{path}"', input=data)

    def show(self, unit: str = UNIT) -> dict[str, str]:
        out = self.run("systemctl", "show", unit, "-p", "ActiveState,SubState,MainPID,"
                       "NRestarts,Result,ExecMainStatus,StatusText").stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str = UNIT) -> str:
        return self.run("journalctl", "-u", unit, "--no-pager", "-o", "cat",
                        check=False).stdout

    def ledger(self) -> dict[str, dict[str, str | None]]:
        out = self.run("/opt/ossync/bin/python", "-c", LEDGER_DUMP, check=False).stdout
        return json.loads(out) if out.strip() else {}

    def close(self) -> None:
        if self.proc.poll() is None and getattr(self, "pid", None):
            with contextlib.suppress(Exception):
                self.run("systemctl", "poweroff", check=False, timeout=30)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn powers the container off
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """The container with ossync installed as the README says and the endpoint up."""
    require_host()
    rootfs = base_tree()
    hostdir = tmp_path_factory.mktemp("nspawn-src")
    build_wheels(hostdir / "wheels", container_python(rootfs),
                 tmp_path_factory.mktemp("nspawn-build"))
    shutil.copytree(ROOT / "systemd", hostdir / "systemd")
    (hostdir / "fetch.py").write_text(FETCH)
    box = Container(rootfs, hostdir, tmp_path_factory.mktemp("nspawn-log") / "boot.log")
    try:
        install(box)
        yield box
    finally:
        box.close()


def install(box: Container) -> None:
    # README: a venv under /opt/ossync, the unit into /etc/systemd/system, the config
    # into /etc/ossync, the key id in the environment file and the secret as a
    # credential (both mode 0600).
    box.sh("python3 -m venv /opt/ossync && /opt/ossync/bin/pip install -q --no-index "
           "--find-links /mnt/src/wheels 'ossync[local]'")
    box.sh("cp /mnt/src/systemd/ossync.service /etc/systemd/system/ && "
           "mkdir -p /etc/ossync /srv/drop && install -d -m 0700 /etc/credstore")
    box.write("/etc/ossync/config.yaml", CONFIG.encode())
    box.write("/etc/ossync/env", f"OSS_ACCESS_KEY_ID={ACCESS_KEY_ID}\n".encode(), "0600")
    box.write("/etc/credstore/oss_access_key_secret", SECRET.encode(), "0600")
    # The local endpoint, inside the container (it has no network), as a transient unit.
    box.run("systemd-run", "--unit=ossync-test-oss", "-E", f"OSS_ACCESS_KEY_ID={ACCESS_KEY_ID}",
            "-E", f"OSS_ACCESS_KEY_SECRET={SECRET}", "/opt/ossync/bin/ossync", "local-oss",
            "--root", "/srv/oss", "--port", str(PORT), "--bucket", BUCKET, "--public-read")
    wait_until(lambda: "serving bucket" in box.journal("ossync-test-oss"), 30,
               "the local endpoint", lambda: box.journal("ossync-test-oss"))
    box.run("systemctl", "daemon-reload")
    box.run("systemctl", "enable", "--now", UNIT, timeout=60)


@pytest.fixture
def running(box: Container) -> Iterator[Container]:
    """Each test starts from the good config, no test drop-in, the unit running."""
    box.write("/etc/ossync/config.yaml", CONFIG.encode())
    if box.run("test", "-e", DROP_IN, check=False).returncode == 0:
        box.run("rm", "-f", DROP_IN)
        box.run("systemctl", "daemon-reload")
        box.run("systemctl", "restart", UNIT, timeout=60)
    if box.show()["ActiveState"] != "active":
        box.run("systemctl", "reset-failed", UNIT, check=False)
        box.run("systemctl", "start", UNIT, timeout=60)
    yield box


def wait_uploaded(box: Container, paths: set[str], timeout: float = 60) -> None:
    def done() -> bool:
        states = box.ledger()
        return all(states.get(p, {}).get("state") == "uploaded" for p in paths)

    wait_until(done, timeout, f"{len(paths)} upload(s)",
               lambda: json.dumps(box.ledger(), indent=1)[-3000:] + box.journal()[-3000:])


def drop_files(box: Container, folder: str, names: list[str]) -> dict[str, bytes]:
    files = {f"{folder}/{n}": jpeg_bytes(3000 + len(n) * 7 + i) for i, n in enumerate(names)}
    for path, data in files.items():
        box.write(path, data)
    return files


# --- the behaviour ----------------------------------------------------------------

def test_start_returns_after_ready_and_runs_hardened_as_its_own_user(
    running: Container
) -> None:
    box = running
    box.run("systemctl", "stop", UNIT, timeout=60)
    box.run("systemctl", "start", UNIT, timeout=60)  # Type=notify: returns after READY=1
    shown = box.show()  # read at once: READY carried the first STATUS= line
    assert (shown["ActiveState"], shown["SubState"]) == ("active", "running"), shown
    assert "watching 1 folder(s)" in shown["StatusText"], shown
    assert "active (running)" in box.run("systemctl", "status", UNIT, check=False).stdout
    status = box.run("cat", f"/proc/{shown['MainPID']}/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uid = fields["Uid"].split()[0]
    assert uid != "0"
    assert box.run("getent", "passwd", uid).stdout.startswith("ossync:")  # DynamicUser
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"  # SystemCallFilter=
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapBnd"], 16) == 0
    mounts = box.run("cat", f"/proc/{shown['MainPID']}/mountinfo").stdout.splitlines()
    root = next(m for m in mounts if m.split()[4] == "/")
    assert " ro," in f" {root.split()[5]},"  # ProtectSystem=strict
    assert box.run("test", "-f", "/var/lib/private/ossync/ledger.db", check=False
                   ).returncode == 0  # StateDirectory= + $STATE_DIRECTORY default


def test_a_dropped_file_is_uploaded(running: Container) -> None:
    box = running
    files = drop_files(box, "/srv/drop", ["first.jpg"])
    wait_uploaded(box, set(files))
    row = box.ledger()["/srv/drop/first.jpg"]
    assert row["sha256"] == hashlib.sha256(files["/srv/drop/first.jpg"]).hexdigest()
    served = box.run("/opt/ossync/bin/python", "/mnt/src/fetch.py", str(row["url"])).stdout
    assert served.strip() == row["sha256"]


def test_kill_9_restarts_the_daemon_and_no_file_is_lost(running: Container) -> None:
    box = running
    before = box.show()
    files = drop_files(box, "/srv/drop", [f"burst-{i:02d}.jpg" for i in range(30)])
    box.run("kill", "-9", before["MainPID"])
    files |= drop_files(box, "/srv/drop", [f"while-down-{i}.jpg" for i in range(5)])
    after = wait_until(lambda: (s := box.show())["NRestarts"] == str(
        int(before["NRestarts"]) + 1) and s["SubState"] == "running" and s, 30,
        "the restart", box.journal)
    assert after["MainPID"] != before["MainPID"]
    wait_uploaded(box, set(files))
    states = box.ledger()
    urls = [states[p]["url"] for p in files]
    assert len(set(urls)) == len(files)  # each file once, none lost


def test_a_hung_daemon_is_killed_by_the_watchdog_and_restarted(running: Container) -> None:
    box = running
    box.sh(f"mkdir -p {os.path.dirname(DROP_IN)} && printf '%s\\n' '[Service]' "
           "'Environment=OSSYNC_FAILPOINTS=worker.process=hang' 'WatchdogSec=2s' "
           f"> {DROP_IN}")
    box.run("systemctl", "daemon-reload")
    box.run("systemctl", "restart", UNIT, timeout=60)
    before = box.show()
    drop_files(box, "/srv/drop", ["stuck.jpg"])
    # The worker hangs; after the stall limit (5 s here) pings stop; 2 s later systemd
    # kills the daemon (SIGABRT) and, RestartSec= later, starts it again.
    wait_until(lambda: int(box.show()["NRestarts"]) > int(before["NRestarts"]), 60,
               "a watchdog restart", box.journal)
    journal = box.journal()
    assert "failpoints armed (OSSYNC_FAILPOINTS=worker.process=hang)" in journal
    assert "failpoint worker.process: hang" in journal
    assert "unhealthy, watchdog pings stopped" in journal
    assert "Watchdog timeout" in journal and "Failed with result 'watchdog'" in journal
    box.run("rm", "-f", DROP_IN, "/srv/drop/stuck.jpg")
    box.run("systemctl", "daemon-reload")
    box.run("systemctl", "restart", UNIT, timeout=60)
    assert box.show()["SubState"] == "running"


def test_reload_picks_up_a_new_watch_folder(running: Container) -> None:
    box = running
    pid = box.show()["MainPID"]
    queued = drop_files(box, "/srv/drop", ["before-reload.jpg"])
    box.sh("mkdir -p /srv/drop2")
    box.write("/etc/ossync/config.yaml", (CONFIG + "  - path: /srv/drop2\n").encode())
    box.run("systemctl", "reload", UNIT, timeout=60)
    wait_until(lambda: "watching 2 folder(s)" in box.show()["StatusText"], 30,
               "the reload", box.journal)
    files = queued | drop_files(box, "/srv/drop2", ["after-reload.jpg"])
    wait_uploaded(box, set(files))
    assert box.show()["MainPID"] == pid
    assert "reloaded /etc/ossync/config.yaml: watching 2 folder(s)" in box.journal()


def test_a_bad_config_fails_without_a_restart_loop(running: Container) -> None:
    box = running
    box.write("/etc/ossync/config.yaml", (CONFIG + "workers: 0\n").encode())
    assert box.run("systemctl", "restart", UNIT, check=False, timeout=60).returncode != 0
    time.sleep(7)  # longer than RestartSec=5s: a restart would have happened by now
    shown = box.show()
    assert (shown["ActiveState"], shown["Result"], shown["ExecMainStatus"]) == (
        "failed", "exit-code", "78"), shown
    assert shown["NRestarts"] == "0", shown
    assert "workers: must be a whole number of at least 1" in box.journal()
    box.write("/etc/ossync/config.yaml", CONFIG.encode())
    box.run("systemctl", "reset-failed", UNIT)
    box.run("systemctl", "start", UNIT, timeout=60)
