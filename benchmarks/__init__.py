"""Benchmarks of jaxcurr: `python -m benchmarks` runs the suite (see __main__.py)."""
