"""The fairness audit's computation: per-group metrics at the serving operating points, disparities with family
bootstrap intervals, small-cell suppression, age coverage and a verdict.

`audit_predictions` works on a plain DataFrame of test-period predictions (docs/interfaces.md) and returns an
`AuditResult` whose `report` holds aggregates only, already suppressed. Nothing here reads files or MLflow, and
nothing renders (see `_html`, `_cards`, `_write` and `_run`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.errors import UpstreamError
from core.notice import DECISION_SUPPORT
from governance import _metrics as fm
from governance._attributes import AuditRows, audited_attributes
from governance._cells import EarlyHelpCounts, count_table
from governance._multiplicity import primary_flags
from governance._report import LIST, Findings, Published, _num, age_coverage, attribute_table, overall_row
from governance._suppression import suppress
from training.metrics import Scores, select_capacity, select_list, select_share, share_name

PASS, REVIEW = "pass", "review"
REQUIRED = ("child_id", "family_id", "as_of", "label", "probability", "hub")


@dataclass(frozen=True)
class AuditResult:
    """The verdict, its reasons and the full JSON-ready report (aggregates only, small cells suppressed)."""

    verdict: str
    reasons: tuple[str, ...]
    report: dict[str, Any]
    seconds: float

    def short_reasons(self, *, limit: int = 480) -> str:
        """The reasons in one line for a version tag."""
        if not self.reasons:
            return "no primary recall or calibration disparity outside the band (Holm)"
        text = f"{len(self.reasons)} flagged: " + "; ".join(self.reasons)
        return text if len(text) <= limit else text[: limit - 3] + "..."


def operating_points(predictions: pd.DataFrame, config: Config) -> dict[str, tuple[str, np.ndarray]]:
    """The selections serving and training use, by name, each with its label.

    First `list`, the operating point serving uses: the children of the families each hub's list holds on each
    as-of date (capacity plus any family at or above the probability threshold; `training.operating_point`, the
    function the hub lists call). Then two secondary rows: the top k children per hub per as-of date (k = the
    hub's capacity, which counts families) and the top share overall per as-of date.

    Parameters
    ----------
    predictions : DataFrame
        Test-period predictions (`as_of`, `hub`, `family_id`, `child_id`, `probability`, optionally `margin`).
    config : Config
        Hub capacities, the list threshold and the fairness top share.

    Returns
    -------
    dict of str to (str, ndarray of bool)
        Operating point name -> (label, selected rows).
    """
    prob = predictions["probability"].to_numpy(float)
    tiebreak = predictions["margin"].to_numpy(float) if "margin" in predictions else None
    scores = Scores(prob, prob, tiebreak=tiebreak)
    capacities = config.list_capacities()  # per hub, or per (council, hub) for a region's predictions
    share = config.fairness.top_share
    threshold = config.serving.list_probability_threshold
    return {
        LIST: (f"the lists: children of the families listed per hub per as-of date (capacity, plus any family at "
               f"or above {threshold:.0%})", select_list(predictions, scores, capacities, threshold)),
        "child_capacity": ("secondary: top k children per hub per as-of date (k = hub capacity in families)",
                           select_capacity(predictions, scores, capacities)),
        share_name(share): (f"secondary: top {share * 100:g}% overall per as-of date",
                            select_share(predictions, scores, share)),
    }


def _check(predictions: pd.DataFrame, attributes: list[str]) -> None:
    needed = set(REQUIRED)
    for attr in attributes:
        needed.add("deprivation_decile" if attr == "deprivation_quintile" else attr)
    missing = sorted(c for c in needed if c not in predictions.columns)
    if missing:
        raise UpstreamError(f"the predictions lack column(s) the audit needs: {', '.join(missing)}")


def _audit_rows(predictions: pd.DataFrame, config: Config, *, replicates: int, seed: int
                ) -> tuple[AuditRows, dict[str, str]]:
    """The labelled rows in a fixed order, their selections and bootstrap weights; and the points' labels."""
    fc = config.fairness
    _check(predictions, [*fc.groups, *(x for pair in fc.intersections for x in pair)])
    frame = predictions.loc[predictions["label"].notna()].copy()
    if frame.empty:
        raise UpstreamError("the predictions hold no labelled rows; nothing to audit")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame = frame.sort_values(["as_of", "child_id"], kind="stable").reset_index(drop=True)
    ops = operating_points(frame, config)
    family_codes = pd.factorize(frame["family_id"])[0]
    rows = AuditRows(frame=frame, y=frame["label"].astype(int).to_numpy(),
                     probability=frame["probability"].to_numpy(float),
                     selections={op: sel for op, (_, sel) in ops.items()}, family_codes=family_codes,
                     child_codes=pd.factorize(frame["child_id"])[0],
                     weights=fm.family_weights(family_codes, replicates, seed=seed))
    return rows, {op: label for op, (label, _) in ops.items()}


def _verdict_rule(band: tuple[float, float], config: Config, n_primary: int) -> str:
    fc = config.fairness
    return ("review when any pre-registered primary comparison — recall at the list and calibration, for "
            f"{', '.join(fm.attribute_label(a).lower() for a in fc.primary_attributes)} — lies outside "
            f"[{band[0]}, {band[1]}] under Holm's family-wise error control at {fc.family_wise_alpha:.0%} "
            f"({n_primary} comparisons this time); otherwise pass. Recall (who the lists miss) and calibration "
            "(whether stated risk is right) matter most for an assistive, voluntary intervention. Every other "
            "disparity is exploratory: shown and flagged when its whole 95% interval is outside the band, never "
            "the verdict's reason.")


def _decide(findings: Findings, band: tuple[float, float], alpha: float) -> None:
    """Holm over the primary family: the rejected comparisons are the verdict's reasons."""
    for c in findings.primary:
        c["cell"]["flagged"] = False
    for c in primary_flags(findings.primary, band=band, alpha=alpha):
        c["cell"]["flagged"] = True
        c["cell"]["p_value"] = _num(c["p_value"], 6)
        p_text = "p < 1e-6" if c["p_value"] < 1e-6 else f"p = {c['p_value']:.2g}"
        findings.reasons.append(f"{c['text']}; Holm-adjusted family of {len(findings.primary)} primary "
                                f"comparisons, {p_text}")


def audit_predictions(predictions: pd.DataFrame, config: Config, *, replicates: int | None = None,
                      seed: int | None = None, early_help: EarlyHelpCounts | None = None,
                      model: dict[str, Any] | None = None) -> AuditResult:
    """Audit test-period predictions and give the verdict (`pass` or `review`).

    Metrics per group at each operating point, disparities with family bootstrap intervals, small-cell
    suppression (also against recovery by differencing) and age coverage.

    Parameters
    ----------
    predictions : DataFrame
        Test-period predictions with the audit columns (docs/interfaces.md); unlabelled rows are ignored.
    config : Config
        The fairness settings (groups, intersections, band, threshold, references) and the hubs.
    replicates : int, optional
        Bootstrap replicates. Default: `config.fairness.bootstrap_replicates`.
    seed : int, optional
        Bootstrap seed. Default: `config.model.seed`.
    early_help : EarlyHelpCounts, optional
        Early help episodes by age, for the age coverage comparison.
    model : dict, optional
        Facts about the audited model version, copied into the report.

    Returns
    -------
    AuditResult
        The verdict, its reasons and the JSON-ready report (aggregates only).
    """
    t0 = time.perf_counter()
    fc = config.fairness
    replicates = fc.bootstrap_replicates if replicates is None else replicates
    if replicates < 1:
        raise UpstreamError("--replicates must be at least 1")
    seed = config.model.seed if seed is None else seed
    rows, op_labels = _audit_rows(predictions, config, replicates=replicates, seed=seed)
    attrs = audited_attributes(rows, fc, hubs=tuple(config.list_capacities()))
    threshold = fc.small_cell_threshold
    table, age_keys = count_table(rows, attrs, threshold=threshold, early_help=early_help)
    published = Published(table, suppress(table.values, table.relations, threshold=threshold,
                                           primary=table.primary))

    band = (float(fc.band[0]), float(fc.band[1]))
    points = list(rows.selections)
    findings = Findings(primary_attributes=tuple(fc.primary_attributes))
    tables = [attribute_table(published, attr, points, band, op_labels, findings) for attr in attrs.values()]
    _decide(findings, band, fc.family_wise_alpha)
    verdict = REVIEW if findings.reasons else PASS
    dates = sorted(rows.frame["as_of"].unique())
    report: dict[str, Any] = {
        "schema": "upstream.fairness_audit/1",
        "decision_support": DECISION_SUPPORT,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": model or {},
        "verdict": verdict,
        "reasons": findings.reasons,
        "other_flags": findings.notes,
        "not_assessed": findings.not_assessed,
        "verdict_rule": _verdict_rule(band, config, len(findings.primary)),
        "primary_comparisons": {"attributes": list(fc.primary_attributes),
                                "metrics": ["recall at the list", "calibration"], "count": len(findings.primary),
                                "family_wise_alpha": fc.family_wise_alpha,
                                "method": "Holm step-down; p-value for 'inside the band' from the family bootstrap"},
        "settings": {"band": list(band), "bootstrap_replicates": replicates, "confidence": 0.95,
                     "bootstrap_unit": "family (resampled with replacement; selections held fixed)",
                     "small_cell_threshold": threshold, "top_share": fc.top_share, "seed": seed,
                     "reference_groups": {t["attribute"]: {"group": t["reference"], "source": t["reference_source"]}
                                          for t in tables}},
        "population": {"rows": "child x as-of date rows of the test period with an observed label",
                       "as_of_dates": [pd.Timestamp(d).strftime("%Y-%m-%d") for d in dates]},
        "operating_points": {op: {"label": op_labels[op]} for op in points},
        "overall": overall_row(published, next(iter(attrs.values())), points),
        "tables": tables,
        "age_coverage": age_coverage(published, age_keys, early_help),
        "suppression": {
            "threshold": threshold,
            "rule": (f"any count under {threshold} (rows, or distinct children) is hidden, every rate computed "
                     "from a hidden count is hidden, and further counts are hidden so that none can be worked "
                     "out from totals, margins or complementary counts"),
            "hidden_counts": len(published.suppression.suppressed),
        },
    }
    return AuditResult(verdict=verdict, reasons=tuple(findings.reasons), report=report,
                       seconds=time.perf_counter() - t0)
