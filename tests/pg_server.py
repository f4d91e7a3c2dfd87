"""A throw-away PostgreSQL server for the tests: Debian's binaries, a temp dir, a free port.

Started with `initdb` + `pg_ctl` (as the `postgres` user when we are root: initdb
refuses root), listening on 127.0.0.1 only; `crash()` is `pg_ctl -m immediate`,
the cheapest "database died" there is. Missing binaries skip the tests, except
under CI=true, where they fail.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

USER = "ossync_test"


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def require_pg() -> Path:
    binaries = pg_bin()
    if binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql); CI needs it")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    return binaries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, binaries: Path, port: int | None = None,
                 password: str | None = None) -> None:
        """`password`: logins need it (scram-sha-256) instead of being trusted."""
        self.bin = binaries
        self.password = password
        self.root = Path(tempfile.mkdtemp(prefix="ossync-pg-"))
        self.port = port or free_port()
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            self.root.chmod(0o700)
        auth = ["-A", "trust"]
        if password is not None:
            pwfile = self.root / "pwfile"
            pwfile.write_text(password + "\n")
            if self._as_postgres:
                shutil.chown(pwfile, "postgres")
            auth = ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
        self._run("initdb", "-D", str(self.data), *auth, "-U", USER, "-E", "UTF8", "--no-sync")
        self._databases = 0
        self.durable = False

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check,
                              cwd=self.root)

    def start(self, durable: bool | None = None) -> PgServer:
        """`durable`: fsync on (benchmarks that claim durability); tests run without.
        A restart keeps the setting of the first start."""
        if durable is not None:
            self.durable = durable
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   f"-c fsync={'on' if self.durable else 'off'} -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options,
                  "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def crash(self) -> None:
        """Stop at once, no checkpoint: what a killed server or a lost machine looks like."""
        self.stop("immediate")

    def restart(self) -> None:
        self.crash()
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str) -> str:
        """Over the unix socket in the server's private folder (no TCP)."""
        return f"postgresql://{USER}@/{database}?host={self.root}&port={self.port}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        self._databases += 1
        name = f"ossync_{os.getpid()}_{self._databases}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        psql = self.bin / "psql"
        cmd = [str(psql), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database,
               "-v", "ON_ERROR_STOP=1", "-Atc", statement]
        env = {**os.environ, "PGPASSWORD": self.password} if self.password else None
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True,
                              env=env)
        return done.stdout

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
