"""upstream: risk prediction for children's services (shared core: config, errors, atomic I/O, CLI)."""

__version__ = "0.1.0"
