"""The list operating point, defined once: which families the hub lists list, and so which children are flagged.

Per hub (and per as-of date when several are evaluated at once) families are ranked by family risk, ties by
family_id; a hub lists its top `capacity` families plus every family whose risk reaches the probability
threshold. The children flagged are the cohort children of the listed families. Serving's lists
(`serving.lists.rank_families`), the training metrics ("at the list") and the fairness audit all call this
module, so the figures a board reads are those of the lists hub leads receive.

Family risk = 1 − ∏(1 − p_child): the chance that at least one child enters care within the horizon if the
children's outcomes were independent given their features (they are not: see `training.family_calibration`
for the family-level calibration fitted on validation). A ranking that is not a probability (a rule) ranks
families by their highest child's score, and the threshold does not apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

# A calibrated probability of exactly 1 would make log1p(-p) infinite; nothing real is that certain.
_P_MAX = 1.0 - 1e-12


def family_risk(probabilities: Sequence[float] | np.ndarray) -> float:
    """1 − ∏(1 − p) over one family's children (0 for no children)."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, _P_MAX)
    return float(-np.expm1(np.log1p(-p).sum()))


def family_risks(family_ids: pd.Series | np.ndarray, probabilities: pd.Series | np.ndarray) -> pd.Series:
    """family_risk for every family at once, indexed by family_id (vectorised: a groupby of log(1 − p))."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, _P_MAX)
    logs = pd.Series(np.log1p(-p)).groupby(np.asarray(family_ids), sort=True).sum()
    return -np.expm1(logs).rename("family_risk")


def rank_family_table(scores: pd.DataFrame, *, capacities: dict[str, int], threshold: float | None,
                      score: str = "probability", by: tuple[str, ...] = (), combine: str = "any",
                      family_calibration: Callable[[np.ndarray], np.ndarray] | None = None) -> pd.DataFrame:
    """One row per (by..., family): hub, family_score, family_risk, rank_in_hub, listed.

    Parameters
    ----------
    scores : child rows with family_id, child_id, hub, the `score` column and the `by` columns.
    capacities : families each hub lists (a hub not named lists only families above the threshold).
    threshold : a family whose risk reaches it is listed beyond the capacity (None: capacity only).
    combine : "any" — family score 1 − ∏(1 − p) (probabilities); "max" — the highest child's score (rankings).
    family_calibration : maps the family score to a calibrated family risk (monotone); the threshold applies to
        the calibrated risk. Without it, family_risk is the family score.

    Returns
    -------
    DataFrame sorted by by..., hub, rank; a family's hub is its children's most common hub (ties: the hub of
    the highest-scoring child); ranks are by family score, ties by family_id.
    """
    by = tuple(by)
    cols = [*by, "family_id", "child_id", "hub", score]
    frame = scores[cols].rename(columns={score: "_s"})
    frame = frame.sort_values([*by, "family_id", "_s", "child_id"], ascending=[True] * len(by) + [True, False, True],
                              kind="stable")
    keys = [*by, "family_id"]
    if combine == "any":
        p = np.clip(frame["_s"].to_numpy(np.float64), 0.0, _P_MAX)
        logs = pd.Series(np.log1p(-p), index=frame.index).groupby([frame[k] for k in keys], sort=True).sum()
        fam_score = -np.expm1(logs)
    elif combine == "max":
        fam_score = frame.groupby(keys, sort=True)["_s"].max()
    else:
        raise ValueError(f"combine must be 'any' or 'max', not {combine!r}")
    counts = frame.groupby([*keys, "hub"], sort=False).size().rename("n").reset_index()
    hub = counts.sort_values([*keys, "n"], ascending=[True] * len(keys) + [False], kind="stable"
                             ).drop_duplicates(keys).set_index(keys)["hub"]
    fam = fam_score.rename("family_score").to_frame()
    fam["hub"] = hub.reindex(fam.index)
    fam = fam.reset_index()
    fam["family_risk"] = (family_calibration(fam["family_score"].to_numpy(float)) if family_calibration is not None
                          else fam["family_score"].to_numpy(float))
    fam = fam.sort_values([*by, "hub", "family_score", "family_id"],
                          ascending=[True] * len(by) + [True, False, True], kind="stable")
    fam["rank_in_hub"] = fam.groupby([*by, "hub"], sort=False).cumcount() + 1
    capacity = fam["hub"].map(capacities).fillna(0).astype(int)
    listed = fam["rank_in_hub"] <= capacity
    if threshold is not None:
        listed |= fam["family_risk"] >= threshold
    fam["listed"] = listed.to_numpy(bool)
    return fam.reset_index(drop=True)


def hub_key(frame: pd.DataFrame) -> np.ndarray:
    """The list each row belongs to: its hub's name, or "code/hub" when the rows carry a `council` (a region's
    hubs are per council: two councils may both have a "Central" hub). `Config.list_capacities` keys the same way.
    """
    hub = frame["hub"].to_numpy(dtype=object)
    if "council" not in frame:
        return hub
    return (pd.Series(frame["council"].to_numpy(dtype=object), dtype=object).str.cat(
        pd.Series(hub, dtype=object), sep="/")).to_numpy(dtype=object)


def select_listed(frame: pd.DataFrame, score: np.ndarray, *, capacities: dict[str, int],
                  threshold: float | None, combine: str = "any",
                  family_calibration: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Row mask: the children of the families listed in their hub on their as-of date (the list operating point).

    `frame` holds child rows (child_id, family_id, hub, as_of; a region's also council: its lists are per
    (council, hub), `hub_key`); `score` ranks them (a calibrated probability for
    the model: combine="any"; a ranking: combine="max", threshold None)."""
    rows = pd.DataFrame({"as_of": frame["as_of"].to_numpy(), "family_id": frame["family_id"].to_numpy(),
                         "child_id": frame["child_id"].to_numpy(), "hub": hub_key(frame),
                         "_score": np.asarray(score, float)})
    fam = rank_family_table(rows, capacities=capacities, threshold=threshold, score="_score", by=("as_of",),
                            combine=combine, family_calibration=family_calibration)
    listed = fam.loc[fam["listed"], ["as_of", "family_id"]]
    key = pd.MultiIndex.from_frame(listed)
    return pd.MultiIndex.from_frame(rows[["as_of", "family_id"]]).isin(key)
