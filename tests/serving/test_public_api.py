"""Each package's public names (`__all__`) resolve: what the CLI and the other layers may use."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["training", "serving", "serving.web", "serving.web.data"])
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ and all(getattr(module, name) is not None for name in module.__all__)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018
