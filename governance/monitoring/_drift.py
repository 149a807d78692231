"""Drift: population stability (PSI) of every model input and of the score against the training reference, the
top movers in the feature dictionary's words, and the share of the cohort with no history, by hub.

Bands (config `monitoring`): PSI under `psi_watch` (0.1) is stable, `psi_watch`..`psi_alert` (0.25) is worth
watching, `psi_alert` and over is an alert. A hub's share of children with no history alerts when it moves by at
least `no_history_change` and by more than four standard errors of the difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from training.reference import bin_shares, no_history, psi, share_by_hub


def _band(value: float, config: Config) -> str:
    mc = config.monitoring
    return "alert" if value >= mc.psi_alert else "watch" if value >= mc.psi_watch else "stable"


def feature_label(name: str) -> str:
    """The feature dictionary's short name for a model input ("police domestic abuse notifications, last 6
    months"); the column name if the dictionary has none."""
    from features.dictionary import FEATURE_DICTIONARY

    info = FEATURE_DICTIONARY.get(name)
    return info.label if info is not None else name


def _mean_text(name: str, ref_mean: float, cur_mean: float) -> str:
    return f"mean {ref_mean:.3g} -> {cur_mean:.3g}" if math.isfinite(ref_mean) and math.isfinite(cur_mean) else ""


def drift(cohort: pd.DataFrame, probability: np.ndarray, reference: dict[str, Any], feature_names: Sequence[str],
          config: Config, *, events: pd.DataFrame) -> dict[str, Any]:
    """PSI per input and for the score, top movers, and no-history shares by hub; JSON-ready with its alerts.

    Parameters
    ----------
    cohort : DataFrame
        The scored cohort's feature rows (`features.build_features` at the scoring as-of date): `family_id`,
        `as_of`, `hub` and the model inputs.
    probability : array
        The calibrated probability of each scored child (the scoring run's `scores.parquet`).
    events : DataFrame
        The extract's events (for "no history").
    """
    mc = config.monitoring
    as_of = pd.to_datetime(cohort["as_of"]).max() if len(cohort) else None
    seasonal = (reference.get("by_as_of_month") or {}).get(f"{as_of.month:02d}") if as_of is not None else None
    rows = []
    for name in feature_names:
        ref = reference["inputs"].get(name)
        if ref is None or name not in cohort:
            continue
        values = pd.to_numeric(cohort[name], errors="coerce").to_numpy(dtype=np.float64)
        cur = bin_shares(values, ref["edges"])
        ref_shares = seasonal["inputs"][name] if seasonal and name in seasonal["inputs"] else ref["shares"]
        value = psi(ref_shares, cur)
        # PSI is blind to a sparse input falling silent (a 2% share going to 0 scores about 0.1): an input whose
        # rows outside its commonest reference bin all but vanish is an alert too (a feed that stopped)
        top = int(np.argmax(ref_shares))
        ref_rest, cur_rest = 1.0 - float(ref_shares[top]), 1.0 - float(cur[top])
        vanished = bool(ref_rest * len(values) >= mc.vanish_min_expected and cur_rest <= mc.vanish_ratio * ref_rest)
        rows.append({"feature": name, "label": feature_label(name), "psi": round(value, 4),
                     "band": "alert" if vanished else _band(value, config), "vanished": vanished,
                     "reference_missing": round(float(ref_shares[-1]), 4), "current_missing": round(float(cur[-1]), 4)})
    rows.sort(key=lambda r: (not r["vanished"], -r["psi"], r["feature"]))
    score_cur = bin_shares(np.asarray(probability, dtype=np.float64), reference["score"]["edges"])
    score_psi = psi(seasonal["score"] if seasonal else reference["score"]["shares"], score_cur)

    alerts: list[dict[str, Any]] = []
    movers = rows[: mc.top_movers]
    hot = [r for r in rows if r["band"] == "alert"]
    if hot:
        names = "; ".join(f"{r['label']} ({'fell silent, ' if r['vanished'] else ''}PSI {r['psi']:.2f})"
                          for r in hot[:mc.top_movers])
        more = f" and {len(hot) - mc.top_movers} more" if len(hot) > mc.top_movers else ""
        alerts.append({"kind": "input_drift", "subject": ", ".join(r["feature"] for r in hot),
                       "message": f"{len(hot)} model input(s) moved (PSI >= {mc.psi_alert:g}, or fell silent): "
                                  f"{names}{more}"})
    if score_psi >= mc.psi_alert:
        alerts.append({"kind": "score_drift", "subject": "score",
                       "message": f"the distribution of calibrated risk moved: PSI {score_psi:.2f} "
                                  f"(>= {mc.psi_alert:g})"})

    flags = no_history(cohort, events)
    current = share_by_hub(flags, cohort["hub"], config.council.hub_names)
    ref_nh = reference.get("no_history", {})
    per_date = max(int(reference.get("as_of_dates", 1)), 1)
    hubs = []
    for hub, cur in current.items():
        ref = ref_nh.get(hub)
        entry = {"hub": hub, "share": _round(cur["share"]), "n": cur["n"],
                 "reference_share": _round(ref["share"]) if ref else None, "change": None, "alert": False}
        if ref and cur["n"] and ref["n"] and math.isfinite(ref["share"]) and math.isfinite(cur["share"]):
            diff = cur["share"] - ref["share"]
            n_ref = ref["n"] / per_date  # the reference pools several as-of dates of the same children
            se = math.sqrt(ref["share"] * (1 - ref["share"]) / n_ref + cur["share"] * (1 - cur["share"]) / cur["n"])
            entry["change"] = round(diff, 4)
            entry["alert"] = bool(abs(diff) >= mc.no_history_change and (se == 0 or abs(diff) > 4 * se))
            if entry["alert"]:
                alerts.append({"kind": "no_history_shift", "subject": hub,
                               "message": f"{hub}: share of the cohort with no history {ref['share']:.1%} -> "
                                          f"{cur['share']:.1%}"})
        hubs.append(entry)
    return {
        "score": {"psi": round(score_psi, 4), "band": _band(score_psi, config)},
        "inputs": rows,
        "top_movers": movers,
        "bands": {"watch": mc.psi_watch, "alert": mc.psi_alert},
        "counts": {b: sum(r["band"] == b for r in rows) for b in ("stable", "watch", "alert")},
        "no_history": hubs,
        "reference_dates": reference.get("test_as_of_dates", []),
        "reference_basis": (f"test-block rows at as-of dates in the same calendar month ({as_of:%B})" if seasonal
                            else "all test-block rows"),
        "alerts": alerts,
    }


def _round(v: float) -> float | None:
    return round(float(v), 4) if v is not None and math.isfinite(v) else None
