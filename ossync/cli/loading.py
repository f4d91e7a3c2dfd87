"""The config file as the commands load it: secrets registered for masking before
anything can print them, warnings logged, and a file that is not text named as such."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ossync.config import Config, load_config
from ossync.core.errors import ConfigError
from ossync.core.textforms import printable
from ossync.ledger import location_secrets
from ossync.service.logsetup import register_secrets


@contextmanager
def readable_config(path: Path) -> Iterator[None]:
    """What a config reader lets slip, as the ConfigError it is: a binary file, a file
    saved in another encoding, a path the system refuses (a name too long)."""
    try:
        yield
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], str(path)) from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start] if isinstance(exc.object, bytes | bytearray) else 0
        raise ConfigError([f"not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); "
                           "save the file as UTF-8"], str(path)) from None


def load(path: Path) -> Config:
    with readable_config(path):
        config = load_config(path)
    if config.credentials is not None:
        register_secrets(config.credentials.secrets())
    register_secrets(location_secrets(config.ledger))
    for warning in config.warnings:
        logging.getLogger("ossync.config").warning("%s: %s", printable(str(path)),
                                                   printable(warning))
    return config
