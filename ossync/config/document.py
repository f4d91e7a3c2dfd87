"""Reading a config file into a YAML document, the one way every reader does it.

A config is a few kilobytes of UTF-8 YAML. Anything else — a directory, a megabyte, a
file saved as Latin-1 or UTF-16, a number of 5000 digits, a key given twice, an alias
bomb that expands to billions of values — is one `ConfigError` line, never a traceback
and never a daemon that hangs or eats the memory of the house.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

from ossync.core.errors import ConfigError

MAX_BYTES = 1024 * 1024  # a config is a few KiB; more is the wrong file
MAX_VALUES = 100_000  # values after aliases are expanded
MAX_DIGITS = 100  # in one number


class _Loader(yaml.SafeLoader):
    """`yaml.SafeLoader`, refusing keys given twice and numbers too long to be settings."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, int] = {}
        for key, _value in node.value:
            if isinstance(key, ScalarNode) and key.value != "<<":
                if key.value in seen:
                    raise ConstructorError(None, None, f"{key.value} is given twice (first "
                                           f"on line {seen[key.value]})", key.start_mark)
                seen[key.value] = key.start_mark.line + 1
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = len(str(node.value).replace("_", ""))
        if digits > MAX_DIGITS:
            raise ConstructorError(None, None, f"a number of {digits} digits is too long",
                                   node.start_mark)
        return super().construct_yaml_int(node)

    def construct_yaml_timestamp(self, node: ScalarNode) -> date:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:  # 2026-02-30
            raise ConstructorError(None, None, f"{node.value} is not a date ({exc})",
                                   node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def read_document(path: Path) -> Any:
    """The YAML document in `path`: any YAML value (the caller checks its shape)."""
    text = _decode(_read(path), path)
    try:
        document = yaml.load(text, Loader=_Loader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc)], str(path)) from None
    except RecursionError:
        raise ConfigError(["not valid YAML: nested too deeply"], str(path)) from None
    except (ValueError, OverflowError) as exc:  # a value no constructor above foresaw
        raise ConfigError([f"not valid YAML: {exc}"], str(path)) from None
    problem = _size_problem(document)
    if problem:
        raise ConfigError([problem], str(path))
    return document


def _read(path: Path) -> bytes:
    if path.is_dir():
        raise ConfigError([f"{path} is a directory; give the config file in it (e.g. "
                           f"{path / 'config.yaml'})"], str(path))
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], str(path)) from None
    except ValueError as exc:  # a NUL in the name
        raise ConfigError([f"cannot read the file: {exc}"], str(path)) from None
    if len(data) > MAX_BYTES:
        raise ConfigError([f"the file is more than {MAX_BYTES // 1024 // 1024} MiB; a config "
                           "is a few KiB (is this the right file?)"], str(path))
    return data


def _decode(data: bytes, path: Path) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(["the file is UTF-16; save it as UTF-8"], str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([f"not UTF-8: byte 0x{data[exc.start]:02x} on line {line}, column "
                           f"{column}; save the file as UTF-8"], str(path)) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"not valid YAML: {where}{reason}"


def _size_problem(document: Any) -> str | None:
    """Count the values as the parser would see them, aliases expanded (each shared value
    counted once per use, without walking it again); a value inside itself is refused."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(value: Any) -> int:
        if not isinstance(value, (list, dict)):
            return 1
        if id(value) in sizes:
            return sizes[id(value)]
        if id(value) in active:
            raise _SelfReference
        active.add(id(value))
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1 + sum(size(child) for child in children)
        active.discard(id(value))
        sizes[id(value)] = min(total, MAX_VALUES + 1)
        return sizes[id(value)]

    try:
        total = size(document)
    except _SelfReference:
        return "not valid YAML: a value contains itself (an alias inside its own anchor)"
    except RecursionError:
        return "not valid YAML: nested too deeply"
    if total > MAX_VALUES:
        return (f"the document expands to more than {MAX_VALUES} values through its aliases "
                "(*name); a config needs a few hundred")
    return None


class _SelfReference(Exception):
    """A list or mapping that contains itself."""
