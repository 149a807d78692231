"""serving.web: the web service — API (`api/`), pages (`pages/`), access control, the audit log's one choke point
(`audit.py`), its data (`data/`: the serving database and the scoring output) and the hosted champion model.

What other layers (the CLI, benchmarks) may use is listed in `__all__`. The names are loaded on first use, so
that `upstream users add` reaches the database without importing the web framework and the model.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_WHERE = {
    "create_app": "serving.web.app",
    "run": "serving.web.app",
    "Store": "serving.web.data",
    "ScoresRepository": "serving.web.data",
    "Champion": "serving.web.model_host",
    "ModelHost": "serving.web.model_host",
    "MlflowChampionLoader": "serving.web.model_host",
    "StaticLoader": "serving.web.model_host",
}

__all__, __getattr__ = lazy_exports(__name__, _WHERE)
