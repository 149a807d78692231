"""upstream: the command line: one subcommand per job; the only package that imports every stage."""

__version__ = "0.1.0"
