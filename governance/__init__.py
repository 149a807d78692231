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

from core.lazy import lazy_exports

# module -> the public names it defines
_MODULES: dict[str, tuple[str, ...]] = {
    "governance._audit": ("PASS", "REVIEW", "AuditResult", "audit_predictions", "operating_points"),
    "governance._cells": ("EarlyHelpCounts",),
    "governance._suppression": ("Relation", "Suppression", "suppress"),
    "governance._html": ("render_html",),
    "governance._cards": ("render_model_card", "render_transparency_record"),
    "governance._write": ("write_outputs", "OUTPUT_FILES"),
    "governance._run": ("audit_version", "early_help_from_extract"),
}

__all__ = [name for names in _MODULES.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
