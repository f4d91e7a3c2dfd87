"""The chaos runner's CI configuration: 200 files, 10 SIGKILLs, 30% injected faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.runner import run_chaos
from tests.pg_server import PgServer


@pytest.mark.timeout(600)
def test_chaos_small(tmp_path: Path) -> None:
    report = run_chaos(files=200, kills=10, fault_rate=0.3, seed=11, max_size=2_000_000,
                       deadline=300, workdir=tmp_path / "chaos")
    print(report.line())
    assert report.clean, "\n".join([report.line(), *report.problems[:20]])
    assert report.lost == report.duplicates == report.partial == report.mismatched == 0
    # the faults really happened
    for fault in ("error", "lost", "badcrc", "reset", "refused"):
        assert report.faults[fault] > 0, f"no {fault} fault was injected: {report.faults}"


@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_chaos_fleet(tmp_path: Path, pg_server: PgServer) -> None:
    """Three daemons on one PostgreSQL ledger, SIGKILLed in turn, the database restarted
    twice, 30% faults: still every file once, with its URL."""
    report = run_chaos(files=150, kills=12, fault_rate=0.3, seed=5, max_size=1_000_000,
                       deadline=300, workdir=tmp_path / "chaos", hosts=3, pg=pg_server,
                       db_restarts=2)
    print(report.line())
    assert report.clean, "\n".join([report.line(), *report.problems[:20]])
    assert report.db_restarts == 2 and report.hosts == 3
