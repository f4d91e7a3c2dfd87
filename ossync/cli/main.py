"""Command line: `main()` is the one error boundary; each command returns an exit status."""

from __future__ import annotations

import argparse
import enum
import errno
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ossync import __version__
from ossync.config import Config, load_config
from ossync.core.clock import rfc3339
from ossync.core.credentials import Credentials
from ossync.core.errors import ConfigError, OssyncError
from ossync.credentials import CredentialError
from ossync.ledger import display_location, location_secrets
from ossync.service.logsetup import error_text, redact, register_secrets, setup_logging

DEFAULT_CONFIG = "/etc/ossync/config.yaml"


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILED = 1  # some file or lookup failed; the rest went through
    USAGE = 2
    BAD_LEDGER = 65  # EX_DATAERR: the ledger file is not a ledger
    NO_LEDGER = 66  # EX_NOINPUT: there is no ledger file
    CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus=78 stops a restart loop
    INTERRUPTED = 130


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="auto",
                        choices=["auto", "human", "journal", "json"],
                        help="auto: journal under systemd, else human")
    parser.add_argument(
        "-c", "--config", type=Path,
        default=Path(os.environ.get("OSSYNC_CONFIG", DEFAULT_CONFIG)),
        help=f"config file (default: $OSSYNC_CONFIG or {DEFAULT_CONFIG})",
    )


def _query_args(parser: argparse.ArgumentParser) -> None:
    _config_arg(parser)
    parser.add_argument("--ledger", default=None,
                        help="the ledger: a file or a postgresql:// URL (default: "
                        "$OSSYNC_LEDGER, else the config's)")
    parser.add_argument("--host", default=None,
                        help="whose local paths to look up in a shared ledger (default: "
                        "the config's host:, else this machine's name)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ossync",
        description="Watch drop folders and upload new images to Alibaba Cloud OSS "
                    "with signed form POSTs, recorded in a SQLite ledger.",
    )
    parser.add_argument("--version", action="version", version=f"ossync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = sub.add_parser("check-config", help="validate a config file and exit (78 if bad)")
    _config_arg(check)

    put = sub.add_parser("put", help="upload the given files once and print their URLs")
    _config_arg(put)
    put.add_argument("files", nargs="+", type=Path, metavar="FILE")
    put.add_argument("--json", action="store_true", help="print a JSON array of results")

    from ossync.cli.query import add_query_commands

    add_query_commands(sub, _query_args)

    from ossync.cli import ledger_copy

    ledger_copy.add_arguments(sub)

    run = sub.add_parser("run", help="run the daemon: watch, upload, record (until SIGTERM)")
    _config_arg(run)

    demo = sub.add_parser("demo", help="try ossync end to end on the bundled local endpoint")
    demo.add_argument("--dir", type=Path, default=Path("ossync-demo"),
                      help="where the demo keeps its drop folder, objects and ledger "
                           "(default: ./ossync-demo)")
    demo.add_argument("--port", type=int, default=9000, help="local endpoint port (default 9000)")
    demo.add_argument("--once", action="store_true",
                      help="exit after the sample photo's round trip (0 when it worked)")
    demo.set_defaults(log_level="info", log_format="auto")

    from ossync.localoss import cli as localoss_cli

    local = sub.add_parser("local-oss", help="serve a local OSS-compatible endpoint (for "
                                              "tests and trying ossync without a cloud account)")
    localoss_cli.add_arguments(local)
    local.set_defaults(log_level="info", log_format="auto")
    return parser


def _load(path: Path) -> Config:
    config = load_config(path)
    if config.credentials is not None:
        register_secrets(config.credentials.secrets())
    register_secrets(location_secrets(config.ledger))
    for warning in config.warnings:
        logging.getLogger("ossync.config").warning("%s: %s", path, warning)
    return config


def _ledger_summary(config: Config) -> str:
    """A SQLite path as it is; a shared ledger is connected to, so a wrong host, a refused
    login, a missing database or a newer schema is reported here, in one line."""
    if not isinstance(config.ledger, str):
        return str(config.ledger)
    from ossync.ledger import Ledger, LedgerError

    try:
        with Ledger.open(config.ledger, readonly=True, host=config.host) as ledger:
            return f"{ledger.location} (connected)"
    except LedgerError as exc:
        if "no ossync tables yet" not in str(exc):
            raise
        return f"{display_location(config.ledger)} (connected; the daemon creates the tables)"


def cmd_check_config(args: argparse.Namespace, stdout: TextIO) -> int:
    config = _load(args.config)
    keys = _fetch_once(config, args.config)
    ledger = _ledger_summary(config)  # a shared ledger that fails stops here, before "OK"
    stdout.write(f"{args.config}: OK\n  target: {_target_summary(config)}\n")
    if keys is not None and config.credential_source is not None:
        until = f", valid until {rfc3339(keys.expires_at)}" if keys.expires_at else ""
        stdout.write(f"  access key id: {_mask(keys.access_key_id)}"
                     f"{' with STS token' if keys.security_token else ''}"
                     f" (from {config.credential_source.describe()}{until})\n")
    stdout.write(f"  ledger: {ledger}\n")
    stdout.write(f"  host: {config.host}\n")
    for w in config.watch:
        stdout.write(f"  watch {w.label}: {w.path} -> {w.prefix}{w.name}\n")
    for warning in config.warnings:
        stdout.write(f"  warning: {warning}\n")
    return ExitStatus.OK


def _fetch_once(config: Config, path: Path) -> Credentials | None:
    """The keys as the source hands them out now (a rotating source is asked once)."""
    source = config.credential_source
    if source is None:
        return None
    try:
        keys = source.fetch()
    except CredentialError as exc:
        raise ConfigError([f"{config.target_name} credentials: {exc}"], str(path)) from None
    register_secrets(keys.secrets())
    return keys


def _target_summary(config: Config) -> str:
    if config.s3 is not None:
        s3 = config.s3
        return (f"s3 bucket {s3.bucket} in {s3.region} at {s3.endpoint} ({s3.addressing}-style, "
                f"SigV4 {s3.method.upper()})")
    if config.local is not None:
        local = config.local
        return f"local folder {local.path} (URLs {local.base_url or 'file://'})"
    oss = config.oss
    assert oss is not None
    return (f"oss bucket {oss.bucket} in {oss.region} at {oss.endpoint} "
            f"(signature V{oss.signature_version}{', custom domain' if oss.cname else ''})")


def _mask(key_id: str) -> str:
    return key_id[:4] + "…" if len(key_id) > 8 else "…"


def cmd_put(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from ossync.cli.put import run_put

    config = _load(args.config)
    return run_put(config, list(args.files), as_json=args.json, stdout=stdout, stderr=stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from ossync.service.daemon import Daemon
    from ossync.service.health import HealthMonitor
    from ossync.service.sdnotify import Notifier

    config = _load(args.config)
    if not config.watch:
        raise ConfigError(["watch: no folders to watch; add at least one (- path: ...)"],
                          str(args.config))
    daemon = Daemon(config)
    monitor = HealthMonitor(daemon, Notifier.from_env())  # READY, STATUS, WATCHDOG for systemd
    monitor.attach()
    try:
        return daemon.run()
    finally:
        monitor.stop()


def cmd_demo(args: argparse.Namespace, stdout: TextIO) -> int:
    from ossync.cli.demo import run_demo

    try:
        return run_demo(args.dir, args.port, args.once, stdout)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OssyncError(f"port {args.port} is in use; pick another with --port") from exc
        raise


def dispatch(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from ossync.cli import query as q

    queries = {
        "url": lambda: q.cmd_url(args, stdout, stderr),
        "ls": lambda: q.cmd_ls(args, stdout),
        "show": lambda: q.cmd_show(args, stdout),
        "status": lambda: q.cmd_status(args, stdout),
        "retry": lambda: q.cmd_retry(args, stdout, stderr),
        "export": lambda: q.cmd_export(args, stdout),
    }
    if args.command in queries:
        return queries[args.command]()
    if args.command == "check-config":
        return cmd_check_config(args, stdout)
    if args.command == "ledger":
        from ossync.cli import ledger_copy

        return ledger_copy.run(args, stdout)
    if args.command == "put":
        return cmd_put(args, stdout, stderr)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "demo":
        return cmd_demo(args, stdout)
    if args.command == "local-oss":
        from ossync.localoss import cli as localoss_cli

        return localoss_cli.run(args)
    raise AssertionError(args.command)


def _status_for(exc: OssyncError) -> int:
    from ossync.cli.query import UsageError
    from ossync.ledger import LedgerCorrupt, LedgerMissing

    if isinstance(exc, UsageError):
        return ExitStatus.USAGE
    if isinstance(exc, LedgerMissing):
        return ExitStatus.NO_LEDGER
    if isinstance(exc, LedgerCorrupt):
        return ExitStatus.BAD_LEDGER
    return ExitStatus.FAILED


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Parse, run, and turn every expected failure into one clear line and an exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    setup_logging(args.log_level, args.log_format, stream=stderr)
    try:
        return int(dispatch(args, stdout, stderr))
    except ConfigError as exc:
        stderr.write(error_text(f"ossync: bad config {exc.source}:\n"))
        for problem in exc.problems:
            stderr.write(error_text(f"  {redact(problem)}\n"))
        return ExitStatus.CONFIG
    except OssyncError as exc:
        stderr.write(error_text(f"ossync: {redact(str(exc))}\n"))
        return _status_for(exc)
    except BrokenPipeError:  # `ossync ls | head`
        return ExitStatus.OK
    except KeyboardInterrupt:
        stderr.write("ossync: interrupted\n")
        return ExitStatus.INTERRUPTED
