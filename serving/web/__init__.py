"""serving.web: the web service — API (`api/`), pages (`pages/`), access control, the audit log's one choke point
(`audit.py`), its data (`data/`: the serving database and the scoring output) and the hosted champion model.

What other layers (the CLI, benchmarks) may use is listed in `__all__`. The names are loaded on first use, so
that `upstream users add` reaches the database without importing the web framework and the model.
"""

from __future__ import annotations

from core.lazy import lazy_exports

# module -> the public names it defines
_MODULES: dict[str, tuple[str, ...]] = {
    "serving.web.app": ("create_app", "run",),
    "serving.web.data": ("Store", "ScoresRepository",),
    "serving.web.model_host": ("Champion", "ModelHost", "MlflowChampionLoader", "StaticLoader",),
}

__all__ = [name for names in _MODULES.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
