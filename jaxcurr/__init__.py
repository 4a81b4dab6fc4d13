"""jaxcurr: teacher-student curriculum learning and gradient-based exploration signals in JAX."""

__version__ = "0.1.0"
