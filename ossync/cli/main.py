"""Command line: `main()` is the one error boundary; each command returns an exit status."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import TextIO

import ossync.cli.terminal as terminal
from ossync import __version__
from ossync.cli.args import (
    DEFAULT_CONFIG,
    Parser,
    config_options,
    logging_options,
    path_arg,
    path_text,
    text_arg,
)
from ossync.cli.args import port as port_number
from ossync.cli.errors import ExitStatus, report, report_bug, report_os_error
from ossync.cli.loading import load
from ossync.core.errors import ConfigError, OssyncError
from ossync.service.logsetup import setup_logging

__all__ = ["DEFAULT_CONFIG", "ExitStatus", "build_parser", "main"]


def _query_args(parser: argparse.ArgumentParser) -> None:
    config_options(parser)
    parser.add_argument("--ledger", default=None, type=path_text,
                        help="the ledger: a file or a postgresql:// URL (default: "
                        "$OSSYNC_LEDGER, else the config's)")
    parser.add_argument("--host", default=None, type=text_arg,
                        help="whose local paths to look up in a shared ledger (default: "
                        "the config's host:, else this machine's name)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ossync",
        description="Watch drop folders and upload every new image to Alibaba Cloud OSS, "
                    "an S3-compatible store or a folder, recorded in a SQLite or "
                    "PostgreSQL ledger.",
    )
    parser.add_argument("--version", action="version", version=f"ossync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = sub.add_parser("check-config", help="validate a config file and exit (78 if bad)")
    config_options(check)

    put = sub.add_parser("put", help="upload the given files once and print their URLs")
    config_options(put)
    put.add_argument("files", nargs="+", type=path_arg, metavar="FILE",
                     help="a file to upload (it need not be in a watch folder)")
    put.add_argument("--json", action="store_true", help="print a JSON array of results")

    from ossync.cli.query import add_query_commands

    add_query_commands(sub, _query_args)

    import ossync.cli.events as events
    import ossync.cli.ledger_copy as ledger_copy
    import ossync.cli.rebuild as rebuild
    import ossync.cli.verify as verify

    events.add_arguments(sub, _query_args)
    verbs = ledger_copy.add_arguments(sub, logging_options)
    rebuild.add_arguments(verbs, config_options)
    verify.add_arguments(sub, _query_args)

    run = sub.add_parser("run", help="run the daemon: watch, upload, record (until SIGTERM)")
    config_options(run)

    demo = sub.add_parser("demo", help="try ossync end to end on the bundled local endpoint")
    logging_options(demo)
    demo.add_argument("--dir", type=path_arg, default=path_arg("ossync-demo"),
                      help="where the demo keeps its drop folder, objects and ledger "
                           "(default: ./ossync-demo)")
    demo.add_argument("--port", type=port_number, default=9000,
                      help="local endpoint port (default 9000)")
    demo.add_argument("--once", action="store_true",
                      help="exit after the sample photo's round trip (0 when it worked)")

    from ossync.localoss import cli as localoss_cli

    local = sub.add_parser("local-oss", help="serve a local OSS-compatible endpoint (for "
                                              "tests and trying ossync without a cloud account)")
    logging_options(local)
    localoss_cli.add_arguments(local)
    return parser


def cmd_put(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from ossync.cli.put import run_put

    config = load(args.config)
    return run_put(config, list(args.files), as_json=args.json, stdout=stdout, stderr=stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from ossync.service.daemon import Daemon
    from ossync.service.health import HealthMonitor
    from ossync.service.sdnotify import Notifier

    config = load(args.config)
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

    return run_demo(args.dir, args.port, args.once, stdout)


def dispatch(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import ossync.cli.query as q

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
        from ossync.cli.check_config import cmd_check_config

        return cmd_check_config(args, stdout)
    if args.command == "ledger" and args.ledger_command == "rebuild":
        import ossync.cli.rebuild as rebuild

        return rebuild.run(args, stdout, stderr)
    if args.command == "events":
        import ossync.cli.events as events

        return events.run(args, stdout)
    if args.command == "ledger":
        import ossync.cli.ledger_copy as ledger_copy

        return ledger_copy.run(args, stdout)
    if args.command == "verify":
        import ossync.cli.verify as verify

        return verify.run(args, stdout, stderr)
    if args.command == "put":
        return cmd_put(args, stdout, stderr)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "demo":
        return cmd_demo(args, stdout)
    if args.command == "local-oss":
        from ossync.localoss import cli as localoss_cli

        return localoss_cli.run(args, stdout, stderr)
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Parse, run, and turn every failure into one clear line and an exit status: the
    expected ones name their cause and fix, anything else is an internal error (70)."""
    stdout = stdout or terminal.never_refuses(sys.stdout)
    stderr = stderr or terminal.never_refuses(sys.stderr)
    debug = False
    try:
        with contextlib.redirect_stdout(stdout):  # --help and --version
            args = build_parser().parse_args(argv)
        debug = args.log_level == "debug"
        setup_logging(args.log_level, args.log_format, stream=stderr)
        return int(dispatch(args, stdout, stderr))
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except OssyncError as exc:
        return report(exc, stderr)
    except BrokenPipeError:  # `ossync ls | head`
        terminal.reader_gone(stdout)
        return ExitStatus.OK
    except KeyboardInterrupt:
        stderr.write("ossync: interrupted\n")
        return ExitStatus.INTERRUPTED
    except OSError as exc:
        return report_os_error(exc, stderr, debug)
    except Exception as exc:  # the last resort: a bug, said in one line
        return report_bug(exc, stderr, debug)
