"""Logging of gridcase processes: one format for every entry point."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    """Log to standard error in gridcase's format (does nothing if the root logger is already set up)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
