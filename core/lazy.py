"""Lazy public names for a package's `__init__` (PEP 562): a name's module is imported on first use."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of a package whose public names are loaded on first use.

    Parameters
    ----------
    package : str
        The package's name (its `__name__`).
    modules : dict of str to tuple of str
        Module -> the public names it defines.

    Returns
    -------
    tuple of (callable, callable)
        `__getattr__` (imports the module, caches the name in the package) and `__dir__`.
    """
    exports = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
