"""Where keys come from: fixed values, a file another program rewrites, a credential
process. (Instance metadata services are in `metadata`.)

A source is a frozen description (what the config named); `fetch()` asks it once for
a complete triple and raises CredentialError with a secret-free reason when it cannot.
Sources never cache: `ossync.credentials.rotating` decides when to ask again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ossync.core.credentials import Credentials, CredentialSupply, StaticSupply
from ossync.credentials.documents import CredentialError, credentials_from_json, mask

if TYPE_CHECKING:
    from ossync.credentials.rotating import RotatingCredentials

log = logging.getLogger("ossync.credentials")
PROCESS_TIMEOUT = 30.0  # seconds a credential process may take
MAX_OUTPUT = 64 * 1024  # bytes of stdout we read (a credentials document is ~2 KB)
STDERR_LINES = 20  # lines of a credential process's stderr that reach the log
FILE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Source:
    """One place keys come from; `name` is what `credential_source:` calls it."""

    name: ClassVar[str] = "source"
    rotates: ClassVar[bool] = True  # False: fixed keys, fetched once

    @property
    def kind(self) -> str:
        """The source's name in `credential_source:` terms."""
        return type(self).name

    def fetch(self) -> Credentials:
        raise NotImplementedError

    def describe(self) -> str:
        """Where, for humans (logs, check-config); never a secret."""
        return self.name

    def fingerprint(self) -> object | None:
        """A cheap look at whether the source changed (a file's stat); None: no such look."""
        return None

    def supply(self, on_rotate: Callable[[Credentials], None] | None = None
               ) -> CredentialSupply:
        """What a target signs through: fixed keys as they are, else a refresher (not
        started: it then fetches when asked; `start()` it to refresh in the background)."""
        if not self.rotates:
            return StaticSupply(self.fetch())
        return self.refresher(on_rotate)

    def refresher(self, on_rotate: Callable[[Credentials], None] | None = None
                  ) -> RotatingCredentials:
        from ossync.credentials.rotating import RotatingCredentials

        return RotatingCredentials(self, on_rotate=on_rotate)


@dataclass(frozen=True)
class StaticSource(Source):
    """Keys read once: the config file, `$CREDENTIALS_DIRECTORY`, or the environment."""

    credentials: Credentials = field(repr=False)
    origin: str = "config"  # config, credentials_directory or environment
    rotates: ClassVar[bool] = False

    @property
    def kind(self) -> str:
        return self.origin

    def fetch(self) -> Credentials:
        return self.credentials

    def describe(self) -> str:
        return self.origin.replace("_", " ")


@dataclass(frozen=True)
class FileSource(Source):
    """A JSON credentials document that another program (a secrets agent, a cron job)
    rewrites; re-read whenever it changes. A half-written file fails to parse and is
    read again a moment later, while the keys already read stay in use."""

    path: Path
    name: ClassVar[str] = "credentials_file"

    def fetch(self) -> Credentials:
        origin = f"credentials_file {self.path}"
        try:
            with self.path.open("rb") as fh:
                data = fh.read(FILE_LIMIT + 1)
        except OSError as exc:
            raise CredentialError(f"{origin}: cannot read it: {exc.strerror or exc}") from None
        if len(data) > FILE_LIMIT:
            raise CredentialError(f"{origin}: larger than {FILE_LIMIT} bytes")
        return credentials_from_json(data.decode("utf-8", "replace"), origin)

    def describe(self) -> str:
        return f"credentials_file {self.path}"

    def fingerprint(self) -> object | None:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            return ("missing", exc.errno)
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class ProcessSource(Source):
    """A program that prints a credentials document on stdout (Aliyun CLI and AWS
    `credential_process` style). Run without a shell and with no secret in its
    arguments; its stderr is logged with anything key-like masked."""

    command: str
    timeout: float = PROCESS_TIMEOUT
    name: ClassVar[str] = "credential_process"

    def argv(self) -> list[str]:
        try:
            argv = shlex.split(self.command)
        except ValueError as exc:
            raise CredentialError(f"credential_process: cannot split the command: {exc}"
                                  ) from None
        if not argv:
            raise CredentialError("credential_process: empty command")
        return argv

    def describe(self) -> str:
        return f"credential_process {self.argv()[0]}"

    def fetch(self) -> Credentials:
        argv = self.argv()
        origin = f"credential_process {argv[0]}"
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, close_fds=True,
                                    start_new_session=True)  # its children go with it
        except OSError as exc:
            raise CredentialError(f"{origin}: cannot run it: {exc.strerror or exc}") from None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise CredentialError(f"{origin}: no answer within {self.timeout:.0f}s; "
                                  "stopped it") from None
        creds: Credentials | None = None
        problem: CredentialError | None = None
        if proc.returncode != 0:
            problem = CredentialError(f"{origin}: exited with status {proc.returncode}")
        else:
            try:
                creds = credentials_from_json(out[:MAX_OUTPUT].decode("utf-8", "replace"),
                                              f"{origin} (stdout)")
            except CredentialError as exc:
                problem = exc
        _log_stderr(origin, err, creds, failed=problem is not None)
        if problem is not None:
            raise problem
        assert creds is not None
        return creds


def _log_stderr(origin: str, err: bytes, creds: Credentials | None, *, failed: bool) -> None:
    lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    level = logging.WARNING if failed else logging.INFO
    for line in lines[:STDERR_LINES]:
        log.log(level, "%s (stderr): %s", origin, mask(line[:500], creds))
    if len(lines) > STDERR_LINES:
        log.log(level, "%s (stderr): %d more line(s) not shown", origin,
                len(lines) - STDERR_LINES)
