"""Experiment TOMLs that ``jaxcurr list`` and ``jaxcurr run <name>`` find by name."""
