"""Each package's public API: every name in `__all__` resolves, and light modules stay light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["core", "synthetic", "features", "training", "governance"])
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, package
    for name in module.__all__:  # a name, or (core) a public submodule
        value = getattr(module, name, None) or importlib.import_module(f"{package}.{name}")
        assert value is not None, f"{package}.{name}"
    assert set(module.__all__) <= set(dir(module))


def test_unknown_names_are_attribute_errors() -> None:
    features = importlib.import_module("features")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = features.nope


def test_the_feature_dictionary_and_suppression_load_without_their_packages_engines() -> None:
    code = ("import sys, features.dictionary, governance; governance.suppress; "
            "print(sorted(m for m in ('pandas', 'features.build', 'matplotlib', 'mlflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
