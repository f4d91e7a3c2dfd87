"""PostObject policy checks: decode, expiry, and every condition, as OSS applies them.

Strict on purpose: a condition naming a field the form lacks fails, unknown
operators are a malformed policy, and field names compare case-insensitively.
The size condition is checked separately once the file has been spooled.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from ossync.localoss.responses import OSSError, access_denied

_EXPIRATION = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$")
_SECRET_FIELDS = ("x-oss-security-token",)


def invalid_policy(message: str) -> OSSError:
    return OSSError(400, "InvalidPolicyDocument", f"Invalid Policy: {message}")


@dataclass(frozen=True)
class Policy:
    expiration: datetime
    conditions: list[object]

    def size_range(self) -> tuple[int, int] | None:
        """The tightest `content-length-range`, if the policy has one."""
        low, high, found = 0, 1 << 63, False
        for cond in self.conditions:
            if isinstance(cond, list) and str(cond[0]).lower() == "content-length-range":
                low, high, found = max(low, cond[1]), min(high, cond[2]), True
        return (low, high) if found else None

    def names(self) -> set[str]:
        """Lower-case names of the fields the conditions pin."""
        out: set[str] = set()
        for cond in self.conditions:
            if isinstance(cond, dict):
                out.update(k.lower() for k in cond)
            elif isinstance(cond, list) and str(cond[0]).lower() != "content-length-range":
                out.add(str(cond[1])[1:].lower())
        return out

    def exact_names(self) -> set[str]:
        """Lower-case names of the fields an exact condition pins (`{name: value}` or
        `["eq", "$name", value]`): only these may carry an object's options."""
        out: set[str] = set()
        for cond in self.conditions:
            if isinstance(cond, dict):
                out.update(k.lower() for k in cond)
            elif isinstance(cond, list) and str(cond[0]).lower() == "eq":
                out.add(str(cond[1])[1:].lower())
        return out


def decode(policy_b64: str) -> Policy:
    """Parse the base64 JSON policy or raise InvalidPolicyDocument."""
    try:
        doc = json.loads(base64.b64decode(policy_b64, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid_policy(f"Invalid JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise invalid_policy("Invalid JSON: the policy must be an object")
    match = _EXPIRATION.match(str(doc.get("expiration", "")))
    if not match:
        raise invalid_policy("Invalid 'expiration' value")
    when = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    conditions = doc.get("conditions")
    if not isinstance(conditions, list):
        raise invalid_policy("Invalid 'conditions' value")
    for cond in conditions:
        _validate(cond)
    return Policy(when, conditions)


def _validate(cond: object) -> None:
    if isinstance(cond, dict):
        if len(cond) != 1 or not isinstance(next(iter(cond.values())), str):
            raise invalid_policy("Invalid Simple-Condition: Simple-Conditions must have "
                                 "exactly one property specified.")
        return
    if not isinstance(cond, list) or len(cond) != 3 or not isinstance(cond[0], str):
        raise invalid_policy(f"Invalid Condition: {_show(cond)}")
    op = cond[0].lower()
    if op == "content-length-range":
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in cond[1:]):
            raise invalid_policy(f"Invalid Condition: {_show(cond)}")
        return
    if not (isinstance(cond[1], str) and cond[1].startswith("$")):
        raise invalid_policy(f"Invalid Condition: {_show(cond)}")
    if op in ("eq", "starts-with") and isinstance(cond[2], str):
        return
    if op in ("in", "not-in") and isinstance(cond[2], list) and all(
        isinstance(v, str) for v in cond[2]
    ):
        return
    raise invalid_policy(f"Invalid Condition: {_show(cond)}")


def check(policy: Policy, fields: Mapping[str, str], bucket: str, now: datetime) -> None:
    """Expiry and every field condition; `fields` has lower-case names."""
    if now >= policy.expiration:
        raise access_denied("Invalid according to Policy: Policy expired.")
    values = {**fields, "bucket": bucket}
    for cond in policy.conditions:
        if not _holds(cond, values):
            raise access_denied(
                f"Invalid according to Policy: Policy Condition failed: {_show(cond)}")


def _holds(cond: object, values: Mapping[str, str]) -> bool:
    if isinstance(cond, dict):
        ((name, value),) = cond.items()
        return bool(values.get(name.lower()) == value)
    assert isinstance(cond, list)
    op = cond[0].lower()
    if op == "content-length-range":
        return True
    have = values.get(cond[1][1:].lower())
    if have is None:
        return False
    want: object = cond[2]
    if op == "eq":
        return bool(have == want)
    if op == "starts-with":
        return isinstance(want, str) and have.startswith(want)
    if op == "in":
        return isinstance(want, list) and have in want
    return isinstance(want, list) and have not in want


def check_size(policy: Policy, size: int) -> None:
    bounds = policy.size_range()
    if bounds is None:
        return
    if size > bounds[1]:
        raise OSSError(400, "EntityTooLarge",
                       "Your proposed upload exceeds the maximum allowed size.")
    if size < bounds[0]:
        raise OSSError(400, "EntityTooSmall",
                       "Your proposed upload is smaller than the minimum allowed size.")


def _show(cond: object) -> str:
    """The condition as JSON for a message, with any token value masked."""
    if isinstance(cond, dict):
        cond = {k: ("***" if k.lower() in _SECRET_FIELDS else v) for k, v in cond.items()}
    elif isinstance(cond, list) and len(cond) == 3 and str(cond[1]).lower().lstrip("$") in (
        _SECRET_FIELDS
    ):
        cond = [cond[0], cond[1], "***"]
    return json.dumps(cond, ensure_ascii=False)
