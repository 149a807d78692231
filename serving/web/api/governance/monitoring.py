"""The latest monitoring report for the governance page and API: read from `monitoring.report_dir`, trimmed.

`upstream monitor --out DIR` writes monitor.json (aggregates only, small cells already suppressed) and charts;
this module reads them for governance, data scientists and admins. Hub leads never see any of it (the routes
check `can_read_aggregates`). A missing or unreadable report is "not monitored yet", never an error page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHART_NAMES = ("trend", "feed", "psi", "outcomes")
TREND_SHOWN = 12


def read_report(report_dir: str | Path) -> dict[str, Any] | None:
    path = Path(report_dir) / "monitor.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def monitoring_summary(report_dir: str | Path) -> dict[str, Any] | None:
    """Status, alerts, trend, top movers, the latest matured figures and decisions' outcomes (all aggregates)."""
    r = read_report(report_dir)
    if not isinstance(r, dict) or "status" not in r:
        return None
    drift = r.get("drift") or {}
    outcomes = r.get("outcomes") or {}
    latest = (outcomes.get("runs") or [])[-1:] or [None]
    decisions = r.get("decisions") or {}
    fair = r.get("fairness_over_time") or {}
    return {
        "status": r.get("status"),
        "generated_at": r.get("generated_at"),
        "scores_as_of": (r.get("scores") or {}).get("as_of"),
        "model_version": (r.get("model") or {}).get("version"),
        "alerts": [{"kind": a.get("kind"), "message": a.get("message")} for a in r.get("alerts", [])],
        "trend": (r.get("trend") or [])[-TREND_SHOWN:],
        "score_psi": (drift.get("score") or {}).get("psi"),
        "top_movers": [{"label": m.get("label"), "psi": m.get("psi"), "band": m.get("band")}
                       for m in (drift.get("top_movers") or [])[:5]],
        "late_months": (r.get("feed") or {}).get("late_months", []),
        "matured": latest[0],
        "waiting": outcomes.get("waiting", []),
        "fairness_verdict": fair.get("verdict"),
        "fairness_reasons": fair.get("reasons", []),
        "decisions": {"matured": decisions.get("matured", 0), "pending": decisions.get("pending", 0),
                      "warning": decisions.get("warning"),
                      "rows": [row for row in decisions.get("rows") or [] if row.get("hub") == "all"]},
        "charts": [n for n in CHART_NAMES if (Path(report_dir) / "charts" / f"{n}.png").is_file()],
    }


def chart_path(report_dir: str | Path, name: str) -> Path | None:
    """A monitoring chart by name (only the known names: no path from the request reaches the filesystem)."""
    if name not in CHART_NAMES:
        return None
    path = Path(report_dir) / "charts" / f"{name}.png"
    return path if path.is_file() else None
