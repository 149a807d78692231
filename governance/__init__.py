"""governance: the fairness audit, small-cell suppression, the model card and the transparency record.

Inside, imports go one way (checked by the import contract in pyproject.toml):

    compute  _metrics, _suppression -> _attributes -> _cells -> _report -> _audit   (numbers, no files)
    render   _templates -> _html, _cards                                             (text from the report)
    write    _write                                                                  (the four files)
    run      _run                                                                    (a registered version)

The public API is below (`__all__`); names are loaded on first use (PEP 562), so that serving, which needs only
`suppress`, does not load matplotlib or MLflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "PASS": "governance._audit",
    "REVIEW": "governance._audit",
    "AuditResult": "governance._audit",
    "audit_predictions": "governance._audit",
    "operating_points": "governance._audit",
    "EarlyHelpCounts": "governance._cells",
    "Relation": "governance._suppression",
    "Suppression": "governance._suppression",
    "suppress": "governance._suppression",
    "render_html": "governance._html",
    "render_model_card": "governance._cards",
    "render_transparency_record": "governance._cards",
    "write_outputs": "governance._write",
    "OUTPUT_FILES": "governance._write",
    "audit_version": "governance._run",
    "early_help_from_extract": "governance._run",
}

__all__ = [
    "audit_predictions",
    "audit_version",
    "AuditResult",
    "early_help_from_extract",
    "EarlyHelpCounts",
    "operating_points",
    "OUTPUT_FILES",
    "PASS",
    "Relation",
    "render_html",
    "render_model_card",
    "render_transparency_record",
    "REVIEW",
    "suppress",
    "Suppression",
    "write_outputs",
]

if TYPE_CHECKING:  # for type checkers and readers: the same names, imported eagerly
    from governance._audit import PASS, REVIEW, AuditResult, audit_predictions, operating_points
    from governance._cards import render_model_card, render_transparency_record
    from governance._cells import EarlyHelpCounts
    from governance._html import render_html
    from governance._run import audit_version, early_help_from_extract
    from governance._suppression import Relation, Suppression, suppress
    from governance._write import OUTPUT_FILES, write_outputs


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'governance' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
