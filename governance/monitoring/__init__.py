"""Monitoring a model in service: feed health, drift, outcomes as they mature, after each decision, fairness over time.

Inside, one way: `_feed`, `_drift`, `_outcomes`, `_decisions` compute their sections (numbers, no files) ->
`_monitor` assembles the report (`compute_report`, pure) and runs the job (`run_monitor`: registry, files,
MLflow) -> `_report` renders monitor.html and the charts. `upstream monitor` calls `run_monitor`
(docs/monitoring.md). Names are loaded on first use (PEP 562), as in the other packages.
"""

from __future__ import annotations

from core.lazy import lazy_exports

# module -> the public names it defines
_MODULES: dict[str, tuple[str, ...]] = {
    "governance.monitoring._feed": ("feed_health",),
    "governance.monitoring._drift": ("drift",),
    "governance.monitoring._outcomes": ("ScoringRun", "card_figures", "listed_children", "matured_run", "read_run"),
    "governance.monitoring._decisions": ("after_decisions", "decisions_frame"),
    "governance.monitoring._monitor": ("MonitorResult", "compute_report", "exit_code", "run_monitor", "summary"),
}

__all__ = [name for names in _MODULES.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
