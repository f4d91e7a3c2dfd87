"""docs/architecture.md stays true to the code: every path, module, class member, package,
layer, row state, ledger method and failpoint it names exists as it says."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from ossync.cli.main import ExitStatus
from ossync.core import failpoints
from ossync.credentials import RotatingCredentials
from ossync.intake.watcher import Watcher
from ossync.ledger import STATES, Ledger
from ossync.ledger.outcomes import Outcome
from ossync.service.daemon import Daemon
from ossync.service.health import HealthMonitor
from ossync.targets.http import HttpTarget
from ossync.targets.multipart.engine import MultipartUploader
from ossync.targets.oss.parts import OssParts
from ossync.targets.oss.target import OssTarget
from ossync.targets.s3.parts import S3Parts
from ossync.targets.s3.target import S3Target
from ossync.upload.worker import Worker
from tests.test_layout import ALLOWED, SRC, import_graph, modules, package_of, parse

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
CLASSES = {c.__name__: c for c in (Daemon, ExitStatus, HealthMonitor, HttpTarget, Ledger,
                                   MultipartUploader, OssParts, OssTarget, RotatingCredentials,
                                   S3Parts, S3Target, Watcher, Worker)}
MERMAID = re.search(r"```mermaid\n(.*?)```", DOC, re.DOTALL)
EDGE = re.compile(r"^\s*(\[\*\]|\w+) --> (\[\*\]|\w+) : (\w+)", re.MULTILINE)


def section(title: str) -> str:
    return DOC.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def resolves(dotted: str) -> bool:
    """`ossync.a.b[.attr…]`: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for end in range(len(parts), 1, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        for attr in parts[end:]:
            if not hasattr(found, attr):
                return False
            found = getattr(found, attr)
        return True
    return False


def test_named_paths_exist() -> None:
    paths = set(re.findall(r"\b((?:ossync|tests|docs)/[\w./-]*\w/?)", DOC))
    assert paths
    assert not sorted(p for p in paths if not (ROOT / p).exists())


def test_named_modules_and_members_exist() -> None:
    dotted = set(re.findall(r"\bossync(?:\.\w+)+", DOC))
    assert dotted
    assert not sorted(d for d in dotted if not resolves(d))
    members = set(re.findall(r"`(\w+)\.(\w+)", DOC))
    missing = [f"{c}.{m}" for c, m in sorted(members) if c in CLASSES
               and not hasattr(CLASSES[c], m)]
    assert not missing


def test_every_package_is_in_the_code_map() -> None:
    packages = [p.name for p in sorted((ROOT / "ossync").iterdir())
                if (p / "__init__.py").exists()]
    code_map = section("Code map")
    assert not [p for p in packages if f"**`ossync/{p}`**" not in code_map]


def test_layer_table_is_allowed() -> None:
    rows = re.findall(r"^\| `(\w+)`[^|]*\| ([^|]+) \|$", section("Code map"), re.MULTILINE)
    assert {name: frozenset(re.findall(r"`(\w+)`", imports)) for name, imports in rows} \
        == ALLOWED


def test_state_diagram_covers_every_state_with_ledger_methods() -> None:
    assert MERMAID is not None
    edges = EDGE.findall(MERMAID.group(1))
    nodes = {n for a, b, _ in edges for n in (a, b)} - {"[*]"}
    assert nodes == set(STATES)
    outcomes = {"Deferred", "Uploaded", "Aliased", "Settled", "Vanished"}
    assert outcomes <= set(outcome_names())
    assert not [label for *_, label in edges
                if not hasattr(Ledger, label) and label not in outcomes]
    assert not [s for s in STATES if f"`{s}`" not in DOC]


def test_every_failpoint_is_named() -> None:
    assert failpoints.ENV in DOC
    assert not [p for p in failpoints.POINTS if f"`{p}`" not in DOC]


def outcome_names() -> list[str]:
    return [cls.__name__ for cls in Outcome.__args__]


def test_a_new_target_needs_a_leaf_a_section_and_one_registry_entry() -> None:
    """The Seams section's recipe is all a target takes: targets never see config, the
    registry it names maps sections to them, and the commands and the daemon never ask
    which kind of target a config has (`config.oss`, `.s3`, `.local`)."""
    seam = section("Seams").split("- **A new target**", 1)[1].split("\n- **", 1)[0]
    assert "`ossync/stores/registry.py`" in seam and "`STORES`" in seam
    assert importlib.import_module("ossync.stores.registry").STORES
    graph = import_graph(SRC)
    assert not sorted(f"{m} -> {t}" for m, imported in graph.items() for t in imported
                      if package_of(m) == "targets" and package_of(t) == "config")
    kinds = {"oss", "s3", "local"}
    asked = sorted(f"{path.relative_to(SRC.parent)}:{node.lineno}: .{node.attr}"
                   for name, path in modules(SRC).items()
                   if package_of(name) in ("cli", "service")
                   for node in ast.walk(parse(path))
                   if isinstance(node, ast.Attribute) and node.attr in kinds)
    assert not asked


def _sleeps(tree: ast.Module) -> list[int]:
    """Lines that call `time.sleep`, or import `sleep` from `time`."""
    return sorted(node.lineno for node in ast.walk(tree)
            if (isinstance(node, ast.Attribute) and node.attr == "sleep"
                and isinstance(node.value, ast.Name) and node.value.id == "time")
            or (isinstance(node, ast.ImportFrom) and node.module == "time"
                and any(a.name == "sleep" for a in node.names)))


def test_retries_have_one_home() -> None:
    """The doc names the one retry policy, it exists, and no store or upload code waits
    on its own: every retry's wait is the policy's, which a stop cuts short."""
    retries = section("Retries")
    assert "`ossync/core/retry.py`" in retries and "`RetryPolicy`" in retries
    policy = importlib.import_module("ossync.core.retry").RetryPolicy
    assert callable(policy.wait) and callable(policy.delay)
    found = [f"{path.relative_to(SRC.parent)}:{line}"
             for name, path in modules(SRC).items() if package_of(name) in ("targets", "upload")
             for line in _sleeps(parse(path))]
    assert not found, f"sleeps outside the retry policy: {found}"
    assert _sleeps(ast.parse("import time\ntime.sleep(1)\nfrom time import sleep\n")) == [2, 3]


def test_the_ledger_contracts_table_is_the_code() -> None:
    """Each contract of ossync/ledger/contracts.py is in the code map's table with exactly
    its methods, and each contract is short (the point of splitting them)."""
    contracts = importlib.import_module("ossync.ledger.contracts")
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ((?:`\w+`(?:, )?)+) \|$", DOC, re.MULTILINE)
    table = {name: set(re.findall(r"`(\w+)`", methods)) for name, methods in rows}
    declared = {name: cls for name, cls in vars(contracts).items()
                if isinstance(cls, type) and getattr(cls, "_is_protocol", False)
                and cls.__module__ == contracts.__name__ and name != "WorkQueue"}
    assert set(table) == set(declared)
    for name, cls in declared.items():
        methods = {m for m in vars(cls) if not m.startswith("_") and callable(vars(cls)[m])}
        assert table[name] == methods, name
        assert len(methods) <= 10, f"{name} has {len(methods)} methods: split it"
