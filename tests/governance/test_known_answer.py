"""The fairness verdict against a known answer, on cheap simulated predictions (fast).

A population of families with an ethnic group, children, hubs and four as-of dates; the true risk depends on a
family's hidden difficulty, never on its ethnicity. The "model" sees that difficulty through the records. With
visibility bias injected, agencies see one group's families less, so the model cannot tell that group's
families at risk from the rest (as the simulator's `simulation.visibility_bias` does to the records): its
recall at the list falls. The audit must flag recall disparity for that group when injected, and flag nothing
in at least 19 of 20 seeds when nothing is injected (Holm over the pre-registered primary comparisons).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import Config, parse_config

GROUPS = {"White": ("WBRI", 0.62), "Asian": ("APKN", 0.12), "Black": ("BAFR", 0.16), "Mixed": ("MWBC", 0.06),
          "Other": ("OOTH", 0.04)}
HUBS = [{"name": "Northfield", "capacity": 60}, {"name": "Riverside", "capacity": 60},
        {"name": "Eastgate", "capacity": 60}]


def audit_config(replicates: int = 100) -> Config:
    return parse_config({"council": {"hubs": HUBS},
                         "fairness": {"groups": ["ethnic_group", "sex", "disability", "age_band"],
                                      "intersections": [], "bootstrap_replicates": replicates}})


def cheap_predictions(seed: int, *, n_families: int = 5000, bias_group: str | None = None,
                      visibility: float = 0.5) -> pd.DataFrame:
    """Test-period predictions (the columns the audit reads) for a simulated population; see the module doc."""
    rng = np.random.default_rng(seed)
    names = list(GROUPS)
    fam_group = rng.choice(names, n_families, p=[GROUPS[g][1] for g in names])
    fam_hub = rng.choice([h["name"] for h in HUBS], n_families)
    difficulty = rng.standard_normal(n_families)
    sizes = rng.choice([1, 2, 3, 4], n_families, p=[0.4, 0.35, 0.17, 0.08])
    fam = np.repeat(np.arange(n_families), sizes)
    n = len(fam)
    child = pd.DataFrame({
        "child_id": [f"C{i:06d}" for i in range(n)], "family_id": [f"F{f:05d}" for f in fam],
        "hub": fam_hub[fam], "ethnic_group": fam_group[fam],
        "ethnicity": [GROUPS[g][0] for g in fam_group[fam]],
        "sex": rng.choice(["male", "female"], n), "disability": rng.choice(["yes", "no"], n, p=[0.07, 0.93]),
        "age0": rng.uniform(0, 16, n), "deprivation_decile": rng.integers(1, 11, n),
    })
    seen = np.where(fam_group[fam] == bias_group, visibility, 1.0) if bias_group else np.ones(n)
    frames = []
    for k, as_of in enumerate(pd.date_range("2015-06-30", periods=4, freq="QE-DEC")):
        f = child.copy()
        f["as_of"] = as_of
        age = f["age0"] + k / 4
        f["age_band"] = pd.cut(age, [0, 5, 10, 16, 99], right=False, labels=["0-4", "5-9", "10-15", "16-17"]
                               ).astype(str)
        state = difficulty[fam] + 0.5 * rng.standard_normal(n)
        logit_true = -4.6 + 1.5 * state
        p_true = 1 / (1 + np.exp(-logit_true))
        f["label"] = (rng.random(n) < p_true).astype(int)
        # the records show the family's state only as far as agencies see it
        observed = seen * state + 0.4 * rng.standard_normal(n)
        logit_model = -4.6 + 1.5 * observed
        f["margin"] = logit_model
        f["probability"] = 1 / (1 + np.exp(-logit_model))
        f["previously_known"] = rng.random(n) < 0.5
        frames.append(f)
    out = pd.concat(frames, ignore_index=True).drop(columns="age0")
    # calibrate the model overall (as isotonic on validation would), so calibration differences are the group's
    out["probability"] *= out["label"].mean() / out["probability"].mean()
    return out


def _primary_flags(result) -> list[str]:
    return list(result.reasons)


def test_injected_visibility_bias_is_flagged_as_a_recall_disparity_for_that_group() -> None:
    from governance import audit_predictions

    result = audit_predictions(cheap_predictions(1, bias_group="Black"), audit_config())
    assert result.verdict == "review"
    assert any("recall" in r and "'Black'" in r for r in _primary_flags(result)), result.reasons


def test_no_bias_no_flag_in_at_least_19_of_20_seeds() -> None:
    from governance import audit_predictions

    flagged = {seed: audit_predictions(cheap_predictions(100 + seed), audit_config()).reasons for seed in range(20)}
    flagged = {seed: reasons for seed, reasons in flagged.items() if reasons}
    assert len(flagged) <= 1, flagged
