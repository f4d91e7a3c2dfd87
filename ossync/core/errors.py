"""Our few exception types: vendor and OS errors become these at the boundary."""

from __future__ import annotations

from dataclasses import dataclass, field


class OssyncError(Exception):
    """Base class; `str(err)` is one line naming the cause, `hint` the fix."""

    hint: str = ""


class ConfigError(OssyncError):
    """The config file is unusable; `problems` lists every `field.path: reason`."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(f"{source}: " + "; ".join(self.problems))


@dataclass
class StoreError(OssyncError):
    """A request to the object store failed.

    `retryable` says whether the same request may succeed later (5xx, timeouts,
    resets, clock skew after re-signing); the rest need a person.
    """

    operation: str
    key: str
    code: str
    message: str
    http_status: int | None = None
    request_id: str | None = None
    retryable: bool = False
    hint: str = field(default="")

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" (HTTP {self.http_status}" if self.http_status else " ("
        where += f", request id {self.request_id})" if self.request_id else ")"
        if where == " ()":
            where = ""
        text = f"{self.operation} {self.key!r}: {self.code}: {self.message}{where}"
        return f"{text}; {self.hint}" if self.hint else text
