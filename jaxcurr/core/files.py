"""Files written whole or not at all, the file locks that order their writers, and values that
JSON can hold."""

from __future__ import annotations

import fcntl
import math
import os
from pathlib import Path
from typing import Any

import numpy as np


def lock_file(path: Path, wait: bool = True) -> int | None:
    """A descriptor of ``path`` (created if absent) under ``fcntl.flock``, or None when another
    process holds it and not ``wait``. The kernel drops the lock when its holder dies. If the
    holder removed or renamed the file meanwhile, the file now at ``path`` is locked anew."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def atomic_write(path: Path, write) -> None:
    """Call ``write(file_object)`` on ``.NAME.jaxcurr-tmp`` in ``path``'s folder, then rename.

    The temporary name is fixed (writers take turns on its lock), so one left by a killed
    process is reused and renamed away by the next write. An error while writing (disk full,
    quota, ``ulimit -f``) is an OSError naming ``path``; the previous file is kept."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.jaxcurr-tmp")
    try:
        fd = lock_file(tmp)
    except OSError as err:  # an unwritable folder: name the file meant, not the temporary one
        raise OSError(err.errno, err.strerror, str(path)) from err
    try:
        os.ftruncate(fd, 0)
        os.fchmod(fd, 0o644)
        with os.fdopen(os.dup(fd), "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not err.filename and err.errno:
            raise OSError(err.errno, err.strerror or os.strerror(err.errno), str(path)) from err
        raise
    finally:
        os.close(fd)


def json_safe(value: Any) -> Any:
    """Nested values with every non-finite float as None (``summary.json`` stays valid JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
