"""Writing the study: impact.json, impact.csv, impact.html and its two charts, as one directory, atomically.

Aggregates only: no child or family row leaves the study.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.io import atomic_dir, write_csv, write_json, write_text
from core.notice import DECISION_SUPPORT
from impact._study import Study
from impact._summary import SMALL_CELL, breakdowns, run_table, summarise

ASSUMPTIONS = (
    "a simulated council with known mechanisms, not a real service: docs/impact.md says what it cannot say",
    "effect = the relative reduction in an accepted family's children's monthly chance of entering care, for 24 "
    "months after the offered early help starts; it changes nothing else in the simulation",
    "each month a hub offers early help to at most its capacity of eligible families (children at home, none "
    "looked after or open to early help or a plan, no offer declined in the last 12 months)",
    "a family offered help accepts with probability `uptake`; the offered episode lasts as the council's own early "
    "help does (15% close a month) and is recorded, so the next month's lists see it",
    "averted = entries to care without extra offers (`none`, the same seed's future) minus entries with the policy",
    "expected, direct = the entries the offered help was expected to prevent month by month along the run (the "
    "chance of entering without it minus with it, summed before the draws): no noise from diverging futures, but "
    "blind to later entries of a child whose entry was put off",
)


def _fmt(mean: float | None, lo: float | None, hi: float | None, digits: int = 1) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{digits}f}"
    return text if lo is None else f"{text} ({lo:.{digits}f} to {hi:.{digits}f})"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def _effect_chart(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    rows = summary[(summary["capacity"] == 1.0) & (summary["policy"] != "none")]
    for policy, g in rows.groupby("policy", sort=False):
        g = g.sort_values("effect")
        x, y = g["effect"].to_numpy(float), g["averted"].to_numpy(float)
        line = ax.plot(x, y, marker="o", label=f"{policy}: realised")[0]
        lo, hi = g["averted_low"].to_numpy(float), g["averted_high"].to_numpy(float)
        if not np.isnan(lo.astype(float)).all():
            ax.fill_between(x, lo, hi, alpha=0.15, color=line.get_color())
        ax.plot(x, g["expected_averted"].to_numpy(float), ls="--", color=line.get_color(),
                label=f"{policy}: expected, direct")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("effect: relative reduction in the entry hazard of accepted families")
    ax.set_ylabel("entries to care averted over the horizon")
    ax.set_title("Entries averted against effect size (95% interval over seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _capacity_chart(summary: pd.DataFrame, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    effect = summary["effect"].max()
    rows = summary[(summary["effect"] == effect) & summary["policy"].isin(["model", "rule"])]
    if rows["capacity"].nunique() < 2:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for policy, g in rows.groupby("policy", sort=False):
        g = g.sort_values("capacity")
        x = g["capacity"].to_numpy(float)
        color = None
        for measure, style, label in (("averted", "-", "realised"), ("expected_averted", "--", "expected, direct")):
            low, high = g[f"{measure}_low"], g[f"{measure}_high"]
            yerr = None if low.isna().all() else np.abs(
                np.vstack([g[measure] - low, high - g[measure]]).astype(float))
            bars = ax.errorbar(x, g[measure].to_numpy(float), yerr=yerr, marker="o", capsize=3, ls=style,
                               color=color, label=f"{policy}: {label}")
            color = bars.lines[0].get_color()
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("hub capacity (times the configured families a month)")
    ax.set_ylabel("entries to care averted over the horizon")
    ax.set_title(f"Capacity curve at effect {effect:g}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>upstream impact: what the lists buy</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse;
margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:90%}</style></head><body>
<h1>What acting on the lists would change: a simulation</h1>
<p><strong>{{ notice }}</strong></p>
<p>Simulated council; the lists at each month end from {{ as_of }} for {{ months }} months; model {{ model }};
uptake {{ uptake }}; {{ seeds }} seed(s) (95% intervals over seeds of the paired difference against no extra offers).
This is not an evaluation of a real service: see docs/impact.md.</p>
<h2>Entries to care averted against effect size</h2>
<img src="averted_by_effect.png" alt="entries averted against effect size, per policy">
{% if capacity_chart %}<h2>Capacity curve</h2>
<img src="capacity_curve.png" alt="entries averted against hub capacity, model and rule">{% endif %}
<h2>Per policy and effect</h2>
<table><tr><th>policy</th><th>effect</th><th>capacity</th><th>entries to care</th><th>looked after at the end</th>
<th>entries averted</th><th>averted per 100 offers</th><th>expected, direct (per 100 offers)</th>
<th>offers</th><th>offers to families who would never have
entered care</th></tr>
{% for r in rows %}<tr><td>{{ r.policy }}</td><td>{{ r.effect }}</td><td>×{{ r.capacity }}</td><td>{{ r.entries }}</td>
<td>{{ r.looked_after_end }}</td><td>{{ r.averted }}</td><td>{{ r.per100 }}</td><td>{{ r.expected }}</td>
<td>{{ r.offers }}</td>
<td>{{ r.never }}</td></tr>
{% endfor %}</table>
<h2>Entries averted by hub, age at entry and previously known (capacity ×1)</h2>
<p class="note">Cells whose entries without extra offers average under {{ small }} are suppressed.</p>
<table><tr><th>policy</th><th>effect</th><th>by</th><th>group</th><th>entries without offers</th><th>averted</th></tr>
{% for r in cells %}<tr><td>{{ r.policy }}</td><td>{{ r.effect }}</td><td>{{ r.by }}</td><td>{{ r.group }}</td>
<td>{{ r.base }}</td><td>{{ r.averted }}</td></tr>
{% endfor %}</table>
<h2>Assumptions</h2><ul>{% for a in assumptions %}<li>{{ a }}</li>{% endfor %}</ul>
</body></html>
"""


def _count(mean: float, lo: float | None, hi: float | None, digits: int = 1) -> str:
    """A count shown to a board: suppressed under SMALL_CELL."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    return f"<{SMALL_CELL}" if mean < SMALL_CELL else _fmt(mean, lo, hi, digits)


def write_impact(study: Study, out: str | Path, config: Config) -> dict[str, Any]:
    """Write DIR/impact.json, impact.csv, impact.html and the charts (all or nothing). Returns the JSON body."""
    from jinja2 import Environment

    hubs = config.council.hub_names
    runs, cells = run_table(study.outcomes, hubs)
    summary = summarise(runs)
    cells_summary = breakdowns(cells)
    s = study.settings
    body = {
        "notice": DECISION_SUPPORT,
        "what": "counterfactual simulation of offering early help to the families on the lists (docs/impact.md)",
        "as_of": study.as_of, "months": s.months, "uptake": s.uptake, "seeds": s.seeds, "seed": s.seed,
        "policies": list(s.policies), "effects": list(s.effects), "capacity_curve": list(s.curve),
        "model": study.model_label, "records_fingerprint": study.fingerprint,
        "capacities": {h.name: h.capacity for h in config.council.hubs},
        "interval": "95% t-interval over seeds of the paired difference against `none` (same seed)",
        "suppression": f"breakdown cells with fewer than {SMALL_CELL} entries without extra offers are suppressed",
        "assumptions": list(ASSUMPTIONS),
        "summary": _records(summary), "breakdowns": _records(cells_summary), "runs": _records(runs),
        "timings_seconds": {k: round(v, 1) for k, v in study.timings.items()},
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    csv = pd.concat([runs.assign(row="run"), summary.assign(row="summary", seed=None)], ignore_index=True)
    csv = csv[["row", *[c for c in csv.columns if c != "row"]]]
    shown = summary[summary["policy"] != "none"].sort_values(["capacity", "policy", "effect"])
    rows = [{"policy": r.policy, "effect": f"{r.effect:g}", "capacity": f"{r.capacity:g}",
             "entries": _count(r.entries, r.entries_low, r.entries_high),
             "looked_after_end": _count(r.looked_after_end, r.looked_after_end_low, r.looked_after_end_high),
             "averted": _fmt(r.averted, r.averted_low, r.averted_high),
             "per100": _fmt(r.averted_per_100_offers, r.averted_per_100_offers_low, r.averted_per_100_offers_high, 2),
             "expected": f"{_fmt(r.expected_averted, r.expected_averted_low, r.expected_averted_high)} "
                         f"({_fmt(r.expected_averted_per_100_offers, None, None, 2)})",
             "offers": _count(r.offers, None, None, 0),
             "never": _fmt(None if pd.isna(r.share_offers_never_entered) else 100 * r.share_offers_never_entered,
                           None, None, 0) + ("%" if pd.notna(r.share_offers_never_entered) else "")}
            for r in shown.itertuples()]
    none_row = summary[summary["policy"] == "none"]
    if len(none_row):
        r = none_row.iloc[0]
        rows.insert(0, {"policy": "none", "effect": "–", "capacity": "1",
                        "entries": _count(r.entries, r.entries_low, r.entries_high),
                        "looked_after_end": _count(r.looked_after_end, r.looked_after_end_low, r.looked_after_end_high),
                        "averted": "0", "per100": "–", "expected": "–", "offers": "0", "never": "–"})
    cell_rows = []
    if not cells_summary.empty:
        for r in cells_summary[cells_summary["capacity"] == 1.0].itertuples():
            cell_rows.append({"policy": r.policy, "effect": f"{r.effect:g}", "by": r.by, "group": r.group,
                              "base": f"<{SMALL_CELL}" if r.suppressed else f"{r.entries_without_offers:.1f}",
                              "averted": "suppressed" if r.suppressed else _fmt(r.averted, r.averted_low,
                                                                               r.averted_high)})
    with atomic_dir(out) as tmp:
        write_json(body, tmp / "impact.json")
        write_csv(csv, tmp / "impact.csv")
        _effect_chart(summary, tmp / "averted_by_effect.png")
        capacity_chart = _capacity_chart(summary, tmp / "capacity_curve.png")
        page = Environment(autoescape=True).from_string(_PAGE).render(
            notice=DECISION_SUPPORT, as_of=study.as_of, months=s.months, model=study.model_label or "none",
            uptake=s.uptake, seeds=s.seeds, rows=rows, cells=cell_rows, small=SMALL_CELL,
            assumptions=ASSUMPTIONS, capacity_chart=capacity_chart)
        write_text(page, tmp / "impact.html")
    return body
