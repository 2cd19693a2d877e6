"""Outputs are written whole or not at all: into a temporary file beside them, then renamed.

A stage that fails half-way leaves the previous output as it was, never a truncated file.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `path` only if the block finishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory (a rename within one file system is atomic) and same suffix (writers
    # such as matplotlib pick the format from it).
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
