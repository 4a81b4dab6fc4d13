"""Core: what every layer may use and which imports no other layer of jaxcurr.

* :mod:`~jaxcurr.core.validation`: one-line :class:`ConfigError`, config sections, sweeps, TOML;
* :mod:`~jaxcurr.core.engine`: the experiment-kind contract (:class:`Engine`, :class:`Kind`);
* :mod:`~jaxcurr.core.aggregate`: interquartile mean, stratified bootstrap intervals and the
  probability of improvement over runs (Agarwal et al. 2021);
* :mod:`~jaxcurr.core.stats`: per-seed statistics for summaries, NaN-tolerant means;
* :mod:`~jaxcurr.core.table`: plain-text summary tables with columns as wide as their content;
* :mod:`~jaxcurr.core.files`: atomic file writes, JSON-safe values;
* :mod:`~jaxcurr.core.small_linalg`: LU solves and Cholesky for small matrices without LAPACK;
* :mod:`~jaxcurr.core.figures`: matplotlib helpers (a mean with its band over seeds);
* :mod:`~jaxcurr.core.extras`: the install extra a missing module needs, said in one line.
"""
