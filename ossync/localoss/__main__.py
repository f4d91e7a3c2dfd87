"""`python -m ossync.localoss …`: the `ossync local-oss` command without the main CLI."""

from __future__ import annotations

import argparse
import sys

from ossync.localoss.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ossync local-oss",
                                     description="Serve a local, strict OSS-compatible endpoint.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
