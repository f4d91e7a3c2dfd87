"""Which OSS image processing (`x-oss-process`) a `/v1/files` caller may have signed into
a URL: a few operations that only change how one image is shown, each parameter
checked. Everything else is refused: `sys/saveas` writes objects into the bucket,
`image/watermark` can draw other objects of the bucket into this one, `style/`, `video/`
and `doc/` run what the bucket owner set up or pays for.

The grammar is OSS's: `image/` then operations separated by `/`, each a name and its
comma-separated parameters, `key_value` or (rotate, format, auto-orient) one bare value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ossync.http.wsgi import HttpProblem

MAX_SPEC = 256  # characters: a few operations
MAX_OPERATIONS = 8
Check = Callable[[str], bool]


def _number(low: int, high: int) -> Check:
    return lambda v: re.fullmatch(r"[0-9]{1,5}", v, re.ASCII) is not None and \
        low <= int(v) <= high


def _one_of(*values: str) -> Check:
    return lambda v: v in values


_SIDE = _number(1, 16384)  # pixels
_POINT = _number(0, 16384)


def _colour(value: str) -> bool:
    return re.fullmatch(r"[0-9A-Fa-f]{6}", value) is not None


_GRAVITY = _one_of("nw", "north", "ne", "west", "center", "east", "sw", "south", "se")
_FORMATS = _one_of("jpg", "jpeg", "png", "webp", "bmp", "gif", "tiff", "heic", "avif")

# operation → (its key_value parameters, or None) and its one bare value (or None)
OPERATIONS: Mapping[str, tuple[Mapping[str, Check] | None, Check | None]] = {
    "resize": ({"m": _one_of("lfit", "mfit", "fill", "pad", "fixed"), "w": _SIDE, "h": _SIDE,
                "l": _SIDE, "s": _SIDE, "p": _number(1, 1000), "limit": _one_of("0", "1"),
                "color": _colour}, None),
    "crop": ({"w": _SIDE, "h": _SIDE, "x": _POINT, "y": _POINT, "g": _GRAVITY}, None),
    "rotate": (None, _number(0, 360)),
    "format": (None, _FORMATS),
    "quality": ({"q": _number(1, 100), "Q": _number(1, 100)}, None),
    "auto-orient": (None, _one_of("0", "1")),
}
ALLOWED = ", ".join(OPERATIONS)


def checked(spec: str) -> str:
    """`spec` when every operation and parameter in it is allowed; else HttpProblem(400)."""
    if len(spec) > MAX_SPEC or not spec.isascii() or not spec.isprintable():
        raise HttpProblem(400, f"process: at most {MAX_SPEC} plain ASCII characters")
    kind, _, chain = spec.partition("/")
    operations = chain.split("/")
    if kind != "image" or not chain or len(operations) > MAX_OPERATIONS:
        raise HttpProblem(400, f"process: only image/ operations are signed here "
                               f"({ALLOWED}), e.g. image/resize,w_300")
    for operation in operations:
        _check(operation)
    return spec


def _check(operation: str) -> None:
    name, *params = operation.split(",")
    if name not in OPERATIONS:
        raise HttpProblem(400, f"process: {_short(name)} is not signed here (allowed: "
                               f"{ALLOWED})")
    keyed, bare = OPERATIONS[name]
    if not params:
        raise HttpProblem(400, f"process: {name} needs a parameter")
    seen: set[str] = set()
    for param in params:
        if bare is not None:
            good = len(params) == 1 and bare(param)
        else:
            key, sep, value = param.partition("_")
            good = bool(sep) and keyed is not None and key in keyed and key not in seen \
                and keyed[key](value)
            seen.add(key)
        if not good:
            raise HttpProblem(400, f"process: {name}: {_short(param)} is not a parameter "
                                   "this API signs")


def _short(text: str) -> str:
    return text if len(text) <= 24 else text[:24] + "…"
