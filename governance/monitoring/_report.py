"""The monitoring report's files: monitor.json (every number), monitor.html (status and alerts first) and charts.

Everything here renders the already-aggregated, already-suppressed report; nothing reads row-level data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.config import Config
from core.io import atomic_path, write_json, write_text

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CHARTS = "charts"


def _save(fig: plt.Figure, target: Path) -> Path:
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return target


def feed_chart(report: dict[str, Any], target: Path, *, most: int = 6) -> Path:
    """Observed against expected per month for the alerting feeds (else the largest ones)."""
    feed = report["feed"]
    rows = [r for r in feed["feeds"] if r["status"] != "ok"] or \
        sorted(feed["feeds"], key=lambda r: -sum(r["expected"]))
    rows = rows[:most]
    months = feed["months"]
    fig, axes = plt.subplots(len(rows) or 1, 1, figsize=(9, 1.7 * max(len(rows), 1) + 0.6), sharex=True,
                             squeeze=False)
    for ax, r in zip(axes[:, 0], rows, strict=False):
        ax.plot(months, r["expected"], color="#888", ls="--", lw=1, label="expected")
        ax.plot(months, r["observed"], color="#c0392b" if r["status"] != "ok" else "#2c6fbb", marker="o", ms=3,
                label="recorded")
        ax.set_title(f"{r['feed']} ({r['status']})", fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
        for m in feed["late_months"]:
            ax.axvspan(months.index(m) - 0.5, months.index(m) + 0.5, color="#f6e7c1", zorder=0)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].tick_params(axis="x", rotation=45)
    fig.suptitle("Records per month: recorded against expected from the training reference", fontsize=10)
    return _save(fig, target)


def psi_chart(report: dict[str, Any], target: Path) -> Path:
    """The top movers' PSI with the watch and alert lines."""
    d = report["drift"]
    rows = list(reversed(d["top_movers"]))
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.2))
    colors = {"alert": "#c0392b", "watch": "#e67e22", "stable": "#2c6fbb"}
    ax.barh([r["label"][:70] for r in rows], [r["psi"] for r in rows], color=[colors[r["band"]] for r in rows])
    ax.axvline(d["bands"]["watch"], color="#e67e22", ls=":", lw=1)
    ax.axvline(d["bands"]["alert"], color="#c0392b", ls="--", lw=1)
    ax.set_xlabel("population stability index (PSI) against the training reference")
    ax.tick_params(labelsize=7)
    ax.set_title(f"Top movers among the model's inputs (score PSI {d['score']['psi']:.3f})", fontsize=10, loc="left")
    return _save(fig, target)


def outcomes_chart(report: dict[str, Any], target: Path) -> Path | None:
    runs = report["outcomes"]["runs"]
    if not runs:
        return None
    names = ("precision", "recall", "recall_not_known", "calibration_listed")
    fig, axes = plt.subplots(1, len(names), figsize=(12, 2.8))
    for ax, name in zip(axes, names, strict=True):
        xs = [r["as_of"] for r in runs]
        for i, r in enumerate(runs):
            f = r["figures"][name]
            if f["value"] is None:
                continue
            ci = f["ci"] or [f["value"], f["value"]]
            ax.errorbar([i], [f["value"]], yerr=[[f["value"] - ci[0]], [ci[1] - f["value"]]], fmt="o",
                        color="#c0392b" if f.get("below_card") else "#2c6fbb", capsize=3)
            if f.get("card") is not None:
                ax.hlines(f["card"], i - 0.3, i + 0.3, color="#555", ls="--")
        ax.set_xticks(range(len(xs)), xs, rotation=45, fontsize=7)
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("Matured scoring runs: realised (95% CI) against the card (dashed)", fontsize=10, y=1.04)
    return _save(fig, target)


def trend_chart(report: dict[str, Any], target: Path) -> Path | None:
    trend = report["trend"]
    if len(trend) < 2:
        return None
    fig, ax = plt.subplots(figsize=(9, 2.4))
    xs = [f"{t['as_of']}\nv{t.get('model_version')}" for t in trend]
    ax.bar(xs, [t["alerts"] for t in trend], color="#c0392b", alpha=0.6, label="alerts")
    ax2 = ax.twinx()
    ax2.plot(xs, [t["score_psi"] for t in trend], color="#2c6fbb", marker="o", label="score PSI")
    ax.set_ylabel("alerts", fontsize=8)
    ax2.set_ylabel("score PSI", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title("Monitoring runs over time", fontsize=10, loc="left")
    return _save(fig, target)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{100 * v:.{d}f}%"
    env.filters["num"] = lambda v, d=3: "–" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.{d}f}")
    return env


def write_report(report: dict[str, Any], out: str | Path, config: Config) -> list[Path]:
    """monitor.json, monitor.html and the charts, each written atomically; returns the files (aggregates only)."""
    out = Path(out)
    charts = out / CHARTS
    files = [feed_chart(report, charts / "feed.png"), psi_chart(report, charts / "psi.png"),
             outcomes_chart(report, charts / "outcomes.png"), trend_chart(report, charts / "trend.png")]
    shown = [f for f in files if f is not None]
    html = environment().get_template("monitor.html.j2").render(
        r=report, charts=[f"{CHARTS}/{f.name}" for f in shown], threshold=config.fairness.small_cell_threshold)
    files = [*shown, write_text(html, out / "monitor.html"), write_json(report, out / "monitor.json")]
    return files
