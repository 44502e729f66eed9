"""Atomic file writes: a temporary file in the same folder, then os.replace.

A reader (CI, a person, the next `--baseline` run) sees either the previous file or
the complete new one, never a half-written report. The temporary file lives next to the
destination because os.replace is atomic only within one file system.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on error it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    os.close(descriptor)
    staged = Path(temporary)
    os.chmod(staged, 0o644)  # mkstemp makes the file private; a report is meant to be read
    try:
        yield staged
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as staged:
        staged.write_bytes(text.encode("utf-8"))
