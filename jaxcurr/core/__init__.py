"""Core: what every layer may use and which imports no other layer of jaxcurr.

* :mod:`~jaxcurr.core.validation`: one-line :class:`ConfigError`, config sections, sweeps, TOML;
* :mod:`~jaxcurr.core.engine`: the experiment-kind contract (:class:`Engine`, :class:`Kind`);
* :mod:`~jaxcurr.core.stats`: means over seeds with 95% intervals, NaN-tolerant means;
* :mod:`~jaxcurr.core.files`: atomic file writes, JSON-safe values;
* :mod:`~jaxcurr.core.small_linalg`: LU solves and Cholesky for small matrices without LAPACK;
* :mod:`~jaxcurr.core.figures`: matplotlib helpers (a mean with its band over seeds).
"""
