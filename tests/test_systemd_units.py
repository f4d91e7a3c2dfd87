"""The shipped unit files: `systemd-analyze verify` finds nothing to warn about, and the
offline security exposure stays at or below 2.0. CI installs systemd for these (.ci/run);
a missing systemd-analyze is a failure, not a skip."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
UNITS = ["ossync.service", "ossync@.service"]
INSTALLED_BINARY = "/opt/ossync/bin/ossync"
MAX_EXPOSURE = 2.0


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is not installed (apt-get install systemd); the unit "
                    "files cannot be checked")
    return found


def unit_copy(name: str, tmp_path: Path) -> Path:
    """The unit with ExecStart= pointing at an ossync that exists here (verify checks it)."""
    text = (ROOT / "systemd" / name).read_text(encoding="utf-8")
    assert INSTALLED_BINARY in text
    here = Path(sys.executable).parent / "ossync"
    assert here.exists(), f"{here}: install ossync into the test venv first"
    path = tmp_path / name
    path.write_text(text.replace(INSTALLED_BINARY, str(here)), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", UNITS)
def test_unit_verifies_without_warnings(name: str, tmp_path: Path) -> None:
    unit = unit_copy(name, tmp_path)
    done = subprocess.run([analyze(), "verify", "--man=no", str(unit)], capture_output=True,
                          text=True, timeout=60)
    # verify exits 0 on unknown keys and bad values: any output at all is a finding.
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), (
        done.stdout + done.stderr)


@pytest.mark.parametrize("name", UNITS)
def test_unit_security_exposure_is_at_most_two(name: str, tmp_path: Path) -> None:
    unit = unit_copy(name, tmp_path)
    done = subprocess.run([analyze(), "security", "--offline=true", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, done.stdout


def test_verify_notices_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a typo'd value and a missing binary are reported."""
    unit = unit_copy("ossync.service", tmp_path)
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text(encoding="utf-8").replace("Type=notify", "Type=notfy"),
                      encoding="utf-8")
    done = subprocess.run([analyze(), "verify", "--man=no", str(broken)], capture_output=True,
                          text=True, timeout=60)
    assert "notfy" in done.stderr


@pytest.mark.parametrize("name", UNITS)
def test_unit_has_what_the_daemon_relies_on(name: str) -> None:
    """Settings the daemon's own behaviour depends on (exit 78, READY, credentials)."""
    text = (ROOT / "systemd" / name).read_text(encoding="utf-8")
    settings = {line.split("=", 1)[0] for line in text.splitlines()
                if "=" in line and not line.startswith("#")}
    for key in ("Type", "WatchdogSec", "RestartPreventExitStatus", "ExecReload",
                "TimeoutStopSec", "StateDirectory", "ConfigurationDirectory", "LoadCredential",
                "EnvironmentFile", "DynamicUser", "SystemCallFilter"):
        assert key in settings, key
    assert "Type=notify\n" in text and "RestartPreventExitStatus=78\n" in text
    from ossync.config.credential_sources import CREDENTIAL_FILES
    from ossync.service.daemon import STOP_GRACE

    for credential in CREDENTIAL_FILES.values():
        assert f"LoadCredential={credential}\n" in text
    stop = re.search(r"^TimeoutStopSec=(\d+)s$", text, re.M)
    assert stop and int(stop.group(1)) > STOP_GRACE + 5
