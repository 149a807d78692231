"""serving: batch scoring of the cohort into explained risk lists per hub (this package), and the web service built
on it (`serving.web`, which the batch job never imports).

What other layers (the CLI, benchmarks) may use is listed in `__all__`; the modules behind it are internals.
The names are loaded on first use, so that importing `serving.web.data` (the CLI's `users add`) does not load
the model and the batch job.
"""

from __future__ import annotations

from core.lazy import lazy_exports

# module -> the public names it defines
_MODULES: dict[str, tuple[str, ...]] = {
    "serving.scoring": ("ScoringResult", "load_model", "run_score", "score_cohort", "score_family", "summary",
                        "write_scoring"),
    "serving.explain": ("Reason", "family_reasons",),
    "serving.family": ("family_risk", "family_risks",),
    "serving.lists": ("read_previous",),
}

__all__ = [name for names in _MODULES.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
