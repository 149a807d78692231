"""audit.html: the audit's plain summary first, then a table and chart per attribute.

Everything here renders the already-suppressed report; nothing reads row-level data.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullLocator

from core.config import Config
from governance._audit import AuditResult
from governance._templates import SUPPRESSED_TEXT, environment

METRIC_LABELS = {
    "recall": "recall (share of entrants flagged)",
    "calibration": "calibration (mean predicted / observed)",
    "selection_rate": "selection rate", "precision": "precision", "false_positive_rate": "false positive rate",
    "false_negative_rate": "false negative rate", "false_omission_rate": "false omission rate",
    "base_rate": "base rate", "mean_predicted": "mean predicted probability", "roc_auc": "ROC-AUC",
}


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def disparity_chart(table: dict[str, Any], op: str, band: tuple[float, float], threshold: int) -> str:
    """Recall at the operating point and calibration, each group relative to the reference, with 95% intervals."""
    groups = table["groups"]
    panels = (("recall", op, f"Recall at this operating point\nrelative to '{table['reference']}'"),
              ("calibration", "", f"Calibration (mean predicted / observed)\nrelative to '{table['reference']}'"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.34 * len(groups) + 1.4), sharey=True)
    for ax, (metric, where, title) in zip(axes, panels, strict=True):
        ax.axvspan(band[0], band[1], color="#dfeedd", zorder=0, label="acceptable band")
        ax.axvline(1.0, color="#777", lw=0.8)
        for i, row in enumerate(groups):
            block = row if where == "" else row["operating_points"][where]
            d = (block.get("disparities") or {}).get(metric)
            if d is None or d.get("ratio") is None:
                ax.text(1.0, i, SUPPRESSED_TEXT.format(threshold=threshold) if d is None else "not defined",
                        va="center", ha="center", fontsize=7, color="#a33")
                continue
            lo, hi = (d["ci"] or [d["ratio"], d["ratio"]])
            colour = "#c0392b" if d["flagged"] else ("#555" if row["reference"] else "#1f5f99")
            ax.errorbar(d["ratio"], i, xerr=[[max(d["ratio"] - lo, 0)], [max(hi - d["ratio"], 0)]], fmt="o",
                        color=colour, ms=4, capsize=2)
        ax.set_xscale("log")
        ax.set_xlim(0.2, 5)
        ax.set_xticks([0.25, 0.5, 0.8, 1, 1.25, 2, 4])
        ax.set_xticklabels(["0.25", "0.5", "0.8", "1", "1.25", "2", "4"])
        ax.xaxis.set_minor_locator(NullLocator())  # log-scale minor ticks would print over the labels
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(groups)))
    axes[0].set_yticklabels([r["group"] + (" (reference)" if r["reference"] else "") for r in groups], fontsize=8)
    axes[0].set_ylim(len(groups) - 0.5, -0.5)  # top to bottom, with room for the first and last labels
    fig.suptitle(table["label"], fontsize=10, x=0.02, ha="left")
    return _png(fig)


def age_chart(age: dict[str, Any], op_labels: dict[str, str]) -> str | None:
    """Share aged 5 and over: flagged, entrants, early help episodes (the case study's finding), side by side."""
    bars = [(f"flagged:\n{op_labels[op]}", b.get("share_5_plus")) for op, b in age["flagged"].items()]
    bars.append(("children who\nentered care", (age.get("entrants") or {}).get("share_5_plus")))
    if age.get("early_help"):
        bars.append(("early help\nepisodes", age["early_help"].get("share_5_plus")))
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for i, (_label, share) in enumerate(bars):
        if share is None:
            ax.text(i, 0.02, "suppressed /\nnot available", ha="center", fontsize=8, color="#a33")
            continue
        ax.bar(i, share, color="#1f5f99" if i < len(age["flagged"]) else "#888")
        ax.text(i, share + 0.02, f"{100 * share:.0f}%", ha="center", fontsize=9)
    ax.set_xticks(range(len(bars)))
    ax.set_xticklabels([b[0] for b in bars], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share aged 5 and over")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _cell(value: Any, *, threshold: int, kind: str = "num") -> str:
    if value is None:
        return SUPPRESSED_TEXT.format(threshold=threshold)
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "int":
        return f"{value:,}"
    return f"{value:.2f}" if isinstance(value, float) and math.isfinite(value) else str(value)


def html_rows(table: dict[str, Any], op: str, threshold: int) -> list[list[str]]:
    """The rows of one attribute's HTML table at one operating point (display strings only)."""
    out = []
    for row in table["groups"]:
        at = row["operating_points"][op]
        d_rec = (at.get("disparities") or {}).get("recall")
        d_cal = (row.get("disparities") or {}).get("calibration")

        def disp(d: dict | None) -> str:
            if d is None:
                return SUPPRESSED_TEXT.format(threshold=threshold)
            if d.get("ratio") is None:
                return "–"
            ci = f" ({d['ci'][0]:.2f}–{d['ci'][1]:.2f})" if d.get("ci") else ""
            return f"{d['ratio']:.2f}{ci}" + (" ⚑" if d.get("flagged") else "")
        out.append([
            row["group"] + (" (reference)" if row["reference"] else ""),
            _cell(row["counts"]["n"], threshold=threshold, kind="int"),
            _cell(row["metrics"]["base_rate"], threshold=threshold, kind="pct"),
            _cell(at["metrics"]["selection_rate"], threshold=threshold, kind="pct"),
            _cell(at["metrics"]["recall"], threshold=threshold, kind="pct"),
            _cell(at["metrics"]["precision"], threshold=threshold, kind="pct"),
            _cell(at["metrics"]["false_positive_rate"], threshold=threshold, kind="pct"),
            _cell(at["metrics"]["false_omission_rate"], threshold=threshold, kind="pct"),
            _cell(row["metrics"]["calibration"], threshold=threshold),
            _cell(row["metrics"]["roc_auc"], threshold=threshold),
            disp(d_rec), disp(d_cal),
        ])
    return out


def render_html(result: AuditResult, config: Config) -> str:
    """audit.html for an audit result.

    Parameters
    ----------
    result : AuditResult
        The audit (its report is already suppressed).
    config : Config
        The council's name.

    Returns
    -------
    str
        The HTML page.
    """
    report = result.report
    threshold = report["settings"]["small_cell_threshold"]
    band = tuple(report["settings"]["band"])
    op_labels = {op: v["label"] for op, v in report["operating_points"].items()}
    ops = list(op_labels)
    sections = []
    for table in report["tables"]:
        sections.append({"table": table, "charts": {op: disparity_chart(table, op, band, threshold) for op in ops[:1]},
                         "rows": {op: html_rows(table, op, threshold) for op in ops}})
    return environment().get_template("audit.html.j2").render(
        report=report, result=result, council=config.council.name, sections=sections, ops=ops, op_labels=op_labels,
        age_chart=age_chart(report["age_coverage"], op_labels), threshold=threshold, band=band,
        suppressed_text=SUPPRESSED_TEXT.format(threshold=threshold), metric_labels=METRIC_LABELS)
