"""Writing files so that a failure never leaves a half-written or lost file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path, content: bytes | str | Callable[[BinaryIO], object]) -> None:
    """Write ``content`` to ``path`` through a temporary file and ``os.replace``.

    ``content`` is bytes, text (written as UTF-8) or a function that writes
    to the open binary file. Until the final rename an existing ``path`` is
    untouched, and after it ``path`` holds the complete new content, so an
    error or an interruption never leaves a truncated file. The temporary
    file sits in the same folder (a rename across file systems is not
    atomic) and is created with ``open``, so it gets the permissions of any
    new file under the user's umask.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(
                    content.encode("utf-8") if isinstance(content, str) else content
                )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
