"""Locality insight for commissioning: per hub, expected entries to care, children flagged and what drives risk.

- Expected entries: the sum of the children's calibrated probabilities. The interval treats the entries as
  a Poisson-binomial count and uses its normal approximation, sum(p) ± 1.96·sqrt(sum p(1 − p)) (floored at
  0). It ignores the model's own uncertainty and the correlation between siblings, so it is too narrow
  rather than too wide.
- Children flagged: the children of the hub's listed families; the share aged 5 or over is among them.
- Drivers: the signals with the largest mean SHAP value over the explained children of the hub (the
  children of listed families by default, everyone with --explain-all), the windows of one signal summed.
- Counts of flagged children under `fairness.small_cell_threshold` are suppressed (shown as "<10"), and so
  is any share computed from them: this page is for aggregate use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from serving.explain import feature_kind

Z95 = 1.959964


def _label(feature: str, group: str) -> str:
    """A driver's name for a commissioner: the signal ("homelessness presentations"), not one window of it."""
    try:
        from features.definitions import SIGNALS_BY_NAME
        from features.dictionary import FEATURE_DICTIONARY

        signal = SIGNALS_BY_NAME.get(group)
        info = FEATURE_DICTIONARY.get(feature)
    except ImportError:
        signal = info = None
    text = signal.plural if signal is not None else info.label if info is not None else feature
    return text[:1].upper() + text[1:]


def hub_drivers(explained_hubs: np.ndarray, shap: np.ndarray, feature_names: Sequence[str], hub: str, *,
                top: int = 5) -> list[dict[str, Any]]:
    """The `top` signals with the largest positive mean SHAP among the hub's explained children."""
    rows = shap[np.asarray(explained_hubs) == hub]
    if len(rows) == 0:
        return []
    mean = rows.mean(axis=0)
    by_group: dict[str, tuple[float, float, str]] = {}  # group -> (sum of means, best single mean, its feature)
    for j, f in enumerate(feature_names):
        if f == "hub_code":
            continue
        g = feature_kind(f)[1]
        total, best, feat = by_group.get(g, (0.0, -np.inf, f))
        by_group[g] = (total + mean[j], max(best, mean[j]), f if mean[j] > best else feat)
    ranked = sorted(by_group.items(), key=lambda kv: -kv[1][0])
    return [{"signal": g, "feature": feat, "label": _label(feat, g), "mean_shap": round(float(total), 4)}
            for g, (total, _, feat) in ranked[:top] if total > 0]


def locality_table(scores: pd.DataFrame, families: pd.DataFrame, config: Config, *,
                   explained_hubs: np.ndarray | None = None, shap: np.ndarray | None = None,
                   feature_names: Sequence[str] = (), top_drivers: int = 5) -> pd.DataFrame:
    """One row per hub (config order) and one for the whole council."""
    small = config.fairness.small_cell_threshold
    listed = set(families.loc[families["listed"], "family_id"])
    flagged = scores["family_id"].isin(listed)
    rows = []
    hubs = [*config.council.hub_names, *sorted(set(scores["hub"]) - set(config.council.hub_names))]
    for hub in [*hubs, None]:
        in_hub = scores["hub"].eq(hub) if hub is not None else pd.Series(True, index=scores.index)
        p = scores.loc[in_hub, "probability"].to_numpy(dtype=float)
        expected = float(p.sum())
        half = Z95 * float(np.sqrt((p * (1 - p)).sum()))
        f = flagged & in_hub
        n_flagged = int(f.sum())
        aged5 = int((scores.loc[f, "age_years"] >= 5).sum())
        suppressed = 0 < n_flagged < small
        fam_hub = families["hub"].eq(hub) if hub is not None else pd.Series(True, index=families.index)
        drivers = []
        if shap is not None and explained_hubs is not None and len(feature_names):
            hub_of = np.asarray(explained_hubs, dtype=object)
            drivers = hub_drivers(hub_of if hub is not None else np.full(len(hub_of), "__all__", dtype=object),
                                  shap, feature_names, hub if hub is not None else "__all__", top=top_drivers)
        rows.append({
            "hub": hub if hub is not None else "All hubs",
            "children": int(in_hub.sum()),
            "families": int(fam_hub.sum()),
            "expected_entries": round(expected, 1),
            "expected_low": round(max(0.0, expected - half), 1),
            "expected_high": round(expected + half, 1),
            "families_listed": int((fam_hub & families["listed"]).sum()),
            "children_flagged": None if suppressed else n_flagged,
            "share_flagged_aged_5_plus": None if suppressed or n_flagged == 0 else round(aged5 / n_flagged, 3),
            "top_drivers": "; ".join(d["label"] for d in drivers),
            "top_drivers_mean_shap": "; ".join(f"{d['mean_shap']:+.3f}" for d in drivers),
        })
    out = pd.DataFrame(rows)
    out["children_flagged"] = out["children_flagged"].astype("Int64")
    out["share_flagged_aged_5_plus"] = out["share_flagged_aged_5_plus"].astype("Float64")
    return out


def locality_context(table: pd.DataFrame, *, as_of: pd.Timestamp, config: Config, model_label: str,
                     notice: str) -> dict[str, Any]:
    """What the locality template shows."""
    small = config.fairness.small_cell_threshold
    rows = []
    for _, r in table.iterrows():
        rows.append({
            "hub": r["hub"], "children": f"{r['children']:,}", "families_listed": f"{r['families_listed']:,}",
            "expected": f"{r['expected_entries']:.1f}",
            "interval": f"{r['expected_low']:.1f} to {r['expected_high']:.1f}",
            "flagged": f"<{small}" if pd.isna(r["children_flagged"]) else f"{int(r['children_flagged']):,}",
            "aged5": "-" if pd.isna(r["share_flagged_aged_5_plus"]) else f"{100 * r['share_flagged_aged_5_plus']:.0f}%",
            "drivers": [d for d in str(r["top_drivers"]).split("; ") if d],
            "total": r["hub"] == "All hubs",
        })
    return {"rows": rows, "as_of": f"{as_of:%d %B %Y}", "horizon": config.outcome.horizon_months,
            "notice": notice, "model": model_label, "small": small}
