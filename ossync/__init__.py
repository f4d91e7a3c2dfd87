"""ossync: watch drop folders, upload new images to OSS, record every upload in SQLite."""

__version__ = "0.1.0"
