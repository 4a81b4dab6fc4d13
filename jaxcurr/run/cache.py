"""The persistent compilation cache of ``jaxcurr run``: compiled programs kept across processes.

JAX can write each compiled XLA executable to a folder, keyed by the program, the XLA flags,
jax's version and the device; a later process with the same key loads it instead of compiling
(``jax_compilation_cache_dir``). ``jaxcurr run`` turns it on in ``$JAXCURR_COMPILATION_CACHE``,
else ``$XDG_CACHE_HOME/jaxcurr/xla`` (``~/.cache/jaxcurr/xla``), for every program however
fast it compiled (:data:`MIN_COMPILE_SECONDS`). ``JAXCURR_COMPILATION_CACHE=0`` turns it off;
a user's own ``JAX_COMPILATION_CACHE_DIR`` is left in charge, and so is any
``JAX_PERSISTENT_CACHE_*`` variable. JAX never caches a program with host callbacks (MuJoCo's
host physics, a ``jax.debug.print``): those compile in every process. Deleting the folder
empties the cache.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from jaxcurr.core.validation import ConfigError

VARIABLE = "JAXCURR_COMPILATION_CACHE"  # a folder, or 0 / off / false / no
OFF = ("0", "off", "false", "no")
# JAX's default is 1 s; on make demo's experiment a second run compiled 5.4 s with 0 against
# 14.4 s with 0.5 (the small programs add up), in 0.9 MB either way (benchmarks/RESULTS.md)
MIN_COMPILE_SECONDS = 0.0


def cache_folder(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The folder ``jaxcurr run`` caches in, or None when ``$JAXCURR_COMPILATION_CACHE`` says
    off."""
    value = environ.get(VARIABLE, "").strip()
    if value.lower() in OFF:
        return None
    if value:
        return Path(value).expanduser()
    base = environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxcurr" / "xla"


def enable(environ: Mapping[str, str] = os.environ) -> str | None:
    """Point JAX's persistent cache at :func:`cache_folder` unless the user set
    ``JAX_COMPILATION_CACHE_DIR``; the folder JAX caches in, or None when off (also when the
    default folder cannot be created). Call it before the process compiles anything (JAX reads
    the setting at its first compile)."""
    import jax

    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return environ["JAX_COMPILATION_CACHE_DIR"]
    folder = cache_folder(environ)
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # the user's folder is bad input; an unusable default is no cache
        if environ.get(VARIABLE):
            raise ConfigError(f"{VARIABLE}: cannot create {str(folder)!r} ({err.strerror}); "
                              "allowed: a folder this user can write, or 0 to turn the cache "
                              "off") from None
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return str(folder)
