"""What the audits' command-line entry points share: bad usage is one line and exit 2."""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """Bad command line (or input a command cannot use): reported as one line, exit code 2."""


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of printing usage and exiting,
    so each entry point reports every kind of bad usage the same way."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)
