"""Monitoring a model in service: feed health, drift, outcomes as they mature, after each decision, fairness over time.

`upstream monitor` runs `run_monitor` after each scoring run; `compute_report` is the pure core (docs/monitoring.md).
"""

from governance.monitoring._decisions import after_decisions, decisions_frame
from governance.monitoring._drift import drift
from governance.monitoring._feed import feed_health
from governance.monitoring._monitor import (
    MonitorResult,
    compute_report,
    exit_code,
    run_monitor,
    summary,
)
from governance.monitoring._outcomes import ScoringRun, card_figures, listed_children, matured_run, read_run

__all__ = [
    "MonitorResult",
    "ScoringRun",
    "after_decisions",
    "card_figures",
    "compute_report",
    "decisions_frame",
    "drift",
    "exit_code",
    "feed_health",
    "listed_children",
    "matured_run",
    "read_run",
    "run_monitor",
    "summary",
]
