"""Key templates tried before the first file arrives: `prefix` and `name` rendered for a
few made-up files, so a template that can only make keys the store refuses (a leading
`/`, a `..` segment, more than 1023 bytes, nothing at all) stops the start with one line
instead of failing every upload."""

from __future__ import annotations

from datetime import datetime, timezone

from ossync.config.problems import Problems
from ossync.core.keys import DEFAULT_NAME, KeyInputs, render_key

_WHEN = datetime(2026, 1, 31, 23, 59, 58, tzinfo=timezone.utc)
_SAMPLES = ("IMG_0001.jpg", "2026/01/scan 7.tif", "a/b/c/DSC_0002.NEF")
_RENDER_ERRORS = (ValueError, KeyError, IndexError, AttributeError, TypeError)


def key_problem(prefix: str, name: str, host: str, folder: str) -> str | None:
    """Why no sample file gets a valid key from `prefix` + `name`; None when one does."""
    first: str | None = None
    for relpath in _SAMPLES:
        ext = "." + relpath.rsplit(".", 1)[1].lower()
        inputs = KeyInputs(relpath=relpath, sha256="3b" * 32, ext=ext, when=_WHEN,
                           host=host, folder=folder)
        try:
            render_key(prefix, name, inputs)
            return None
        except _RENDER_ERRORS as exc:
            first = first or _short(str(exc))
    return first


def _short(reason: str) -> str:
    return reason if len(reason) <= 160 else reason[:159] + "…"


def check_templates(p: Problems, where: str, prefix: str, name: str, host: str,
                    folder: str, name_key: str = "name") -> None:
    """One problem, on the key to blame: the prefix if it fails with the default name,
    else the name (`name_key`: what the name template is called there)."""
    problem = key_problem(prefix, name, host, folder)
    if problem is None:
        return
    blame = "prefix" if key_problem(prefix, DEFAULT_NAME, host, folder) else name_key
    p.errors.append(f"{where}{blame}: no file could get an object key the store accepts "
                    f"({problem})")
