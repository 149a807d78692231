"""serving: batch scoring of the cohort into explained risk lists per hub (this package), and the web service built
on it (`serving.web`, which the batch job never imports).

What other layers (the CLI, benchmarks) may use is listed in `__all__`; the modules behind it are internals.
The names are loaded on first use, so that importing `serving.web.data` (the CLI's `users add`) does not load
the model and the batch job.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_WHERE = {
    "DECISION_SUPPORT": "serving.scoring",
    "ScoringResult": "serving.scoring",
    "default_as_of": "serving.scoring",
    "load_model": "serving.scoring",
    "run_score": "serving.scoring",
    "score_cohort": "serving.scoring",
    "score_family": "serving.scoring",
    "summary": "serving.scoring",
    "write_scoring": "serving.scoring",
    "Reason": "serving.explain",
    "family_reasons": "serving.explain",
    "reasons_for_child": "serving.explain",
    "family_risk": "serving.family",
    "family_risks": "serving.family",
    "read_previous": "serving.lists",
}

__all__, __getattr__ = lazy_exports(__name__, _WHERE)
