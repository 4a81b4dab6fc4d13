"""The experiments jaxcurr ships: one TOML file each, run by name (``jaxcurr run <name>``) and
listed by ``jaxcurr list`` (:mod:`jaxcurr.run.experiment` reads them as package data)."""
