"""The model card and the transparency record, rendered from the audit's report (aggregates only).

The model card: intended use and users, uses it must not have, data, metrics, fairness, limits, oversight. The
transparency record: a tier-1 public summary in the style of the UK Algorithmic Transparency Recording Standard.
"""

from __future__ import annotations

from typing import Any

from core.config import Config
from governance._templates import environment

METRIC_NAMES: dict[str, str] = {
    "test_model_roc_auc": "ROC-AUC", "test_model_pr_auc": "PR-AUC", "test_model_brier": "Brier score",
    "test_model_ece": "expected calibration error", "test_model_precision_at_capacity": "precision at hub capacity",
    "test_model_recall_at_capacity": "recall at hub capacity",
    "test_model_recall_not_known_at_capacity": "recall at hub capacity, children not previously known",
    "test_model_precision_at_top2pct": "precision, top 2%", "test_model_recall_at_top2pct": "recall, top 2%",
    "test_logistic_pr_auc": "PR-AUC, logistic regression baseline",
    "test_rule_pr_auc": "PR-AUC, referral-count rule baseline",
    "test_model_expected_precision_ratio_at_top2pct": "expected precision / oracle's, top 2% (simulated data)",
}


def card_context(report: dict[str, Any], config: Config) -> dict[str, Any]:
    """What the card and the transparency record share: model facts, settings and the audit's aggregates."""
    model = report.get("model") or {}
    caps = sorted({h.capacity for h in config.council.hubs})
    capacity_text = (f"{caps[0]}" if len(caps) == 1 else f"{caps[0]}–{caps[-1]}") + " children per hub per month"
    ops = list(report["operating_points"])
    return {
        "model": model, "params": model.get("params") or {}, "tags": model.get("tags") or {},
        "metrics": model.get("metrics") or {}, "metric_names": METRIC_NAMES,
        "council": config.council.name, "n_hubs": len(config.council.hubs), "capacity_text": capacity_text,
        "horizon": config.outcome.horizon_months,
        "outcome": "entry to care (starting to be looked after)" if config.outcome.event_type == "looked_after"
        else "a child protection plan",
        "verdict": report["verdict"], "reasons": report["reasons"], "verdict_rule": report["verdict_rule"],
        "generated_at": report["generated_at"], "decision_support": report["decision_support"],
        "overall": report["overall"], "age": report["age_coverage"], "ops": ops,
        "op_labels": {op: v["label"] for op, v in report["operating_points"].items()},
        "phase": "champion (in use)" if "champion" in (model.get("aliases") or []) else "pre-deployment (challenger)",
    }


def render_document(template: str, report: dict[str, Any], config: Config) -> str:
    """Render one of the audit's Markdown documents from its report.

    Parameters
    ----------
    template : str
        `model_card.md.j2` or `transparency_record.md.j2` (in governance/templates/).
    report : dict
        The audit's report (`AuditResult.report`).
    config : Config
        The council, its hubs, the outcome and horizon.

    Returns
    -------
    str
        Markdown.
    """
    return environment().get_template(template).render(**card_context(report, config))


def render_model_card(report: dict[str, Any], config: Config) -> str:
    """model_card.md for an audited version (see `render_document`)."""
    return render_document("model_card.md.j2", report, config)


def render_transparency_record(report: dict[str, Any], config: Config) -> str:
    """transparency_record.md: plain-English name, description, use in decisions, oversight and contact (see
    `render_document`)."""
    return render_document("transparency_record.md.j2", report, config)
