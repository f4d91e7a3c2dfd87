"""Secrets kept in files (a listener's token, a webhook's secret): read only when the
daemon's user alone may read them, since a secret anyone on the host can read is no
secret, and said so in one line naming the fix."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ossync.config.checks import shown_path


def read_private(path: Path, limit: int) -> str:
    """The first `limit` bytes of `path`, stripped; ValueError when it cannot be read or
    its group or anyone else may read it."""
    try:
        with path.open("rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            text = fh.read(limit).decode("utf-8", "replace").strip()
    except OSError as exc:
        raise ValueError(f"cannot read {shown_path(path)}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        who = "anyone on this host" if mode & stat.S_IROTH else "its group"
        raise ValueError(f"{shown_path(path)} can be read by {who}: make it the daemon "
                         f"user's alone (chmod 600 {shown_path(path)})")
    return text
