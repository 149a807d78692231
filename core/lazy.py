"""Lazy public names for a package's `__init__`: `__all__` is declared up front, each name's module is imported
on first use (PEP 562), so importing one light submodule does not load the whole package."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, where: dict[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """`__all__` and a module `__getattr__` for a package whose public names live in its submodules.

    Parameters
    ----------
    package : str
        The package's `__name__` (for the error message).
    where : dict
        Public name -> the module that defines it.

    Returns
    -------
    tuple
        (`__all__`, `__getattr__`), to assign in the package's `__init__`.
    """
    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name]), name)

    return sorted(where), __getattr__
