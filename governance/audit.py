"""The fairness audit: per-group metrics at the serving operating points, disparities, suppression and a verdict.

`audit_predictions` works on a plain DataFrame of test-period predictions (docs/interfaces.md) and returns an
`AuditResult` whose `report` holds aggregates only, already suppressed; `audit_version` runs it on a registered
model version, writes the outputs, logs them to the version's MLflow run and sets the `fairness_verdict` tag.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.errors import UpstreamError
from governance import fairness as fm
from governance.suppression import DERIVED, Relation, suppress
from training.metrics import Scores, select_capacity, select_share, share_name

PASS, REVIEW = "pass", "review"
REQUIRED = ("child_id", "family_id", "as_of", "label", "probability", "hub")
OVERALL = ("*", "all")
AGE = "age_coverage"
EARLY_HELP = "early_help"
UNDER_5, FIVE_PLUS = "under 5", "5 and over"
# Metric names for an early-help figure that a training run may have logged (used when --data is not given).
EARLY_HELP_RUN_METRICS = ("early_help_aged_5_plus_share", "early_help_over_fives_share")
DECISION_SUPPORT = "Decision support only: a practitioner decides."


@dataclass(frozen=True)
class AuditResult:
    """The verdict, its reasons and the full JSON-ready report (aggregates only, small cells suppressed)."""

    verdict: str
    reasons: tuple[str, ...]
    report: dict[str, Any]
    seconds: float

    def short_reasons(self, limit: int = 480) -> str:
        """The reasons in one line for a version tag."""
        if not self.reasons:
            return "no recall or calibration disparity outside the band"
        text = f"{len(self.reasons)} flagged: " + "; ".join(self.reasons)
        return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class EarlyHelpCounts:
    """Early help episodes starting in the test period, by the child's age at the start, and where from."""

    under_5: int
    five_plus: int
    source: str
    share: float | None = None  # a logged share when only that is known (no counts)


# --- operating points -----------------------------------------------------------------------------------------
def operating_points(predictions: pd.DataFrame, config: Config) -> dict[str, tuple[str, np.ndarray]]:
    """Selections as serving and training use them: the top k children per hub per as-of date (k = the hub's
    capacity), and the top share overall per as-of date; ranked by probability, ties by margin then child_id."""
    prob = predictions["probability"].to_numpy(float)
    tiebreak = predictions["margin"].to_numpy(float) if "margin" in predictions else None
    scores = Scores(prob, prob, tiebreak=tiebreak)
    capacities = {h.name: h.capacity for h in config.council.hubs}
    share = config.fairness.top_share
    return {
        "capacity": ("top k per hub (k = hub capacity) per as-of date",
                     select_capacity(predictions, scores, capacities)),
        share_name(share): (f"top {share * 100:g}% overall per as-of date", select_share(predictions, scores, share)),
    }


# --- helpers --------------------------------------------------------------------------------------------------
def _num(value: object, digits: int = 6) -> float | int | None:
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    return int(v) if v.is_integer() and abs(v) > 1 else round(v, digits)


def _check(predictions: pd.DataFrame, attributes: list[str]) -> None:
    needed = set(REQUIRED)
    for attr in attributes:
        needed.add("deprivation_decile" if attr == "deprivation_quintile" else attr)
    missing = sorted(c for c in needed if c not in predictions.columns)
    if missing:
        raise UpstreamError(f"the predictions lack column(s) the audit needs: {', '.join(missing)}")


def early_help_from_extract(directory: str | Path, config: Config, *, start: pd.Timestamp, end: pd.Timestamp
                            ) -> EarlyHelpCounts:
    """Early help episodes with a child that start in (start, end], by the child's age at the start."""
    import features

    extract = features.load_extract(Path(directory), hubs=config.council.hub_names)
    ev = extract.events
    eh = ev.loc[(ev["event_type"] == "early_help") & ev["child_id"].notna()
                & (ev["event_date"] > start) & (ev["event_date"] <= end), ["child_id", "event_date"]]
    dob = extract.children.set_index("child_id")["date_of_birth"]
    born = pd.to_datetime(eh["child_id"].map(dob))
    age = (pd.to_datetime(eh["event_date"]) - born).dt.days / 365.25
    five_plus = int((age >= 5).sum())
    return EarlyHelpCounts(under_5=int((age < 5).sum()), five_plus=five_plus,
                           source=f"extract {directory}: early_help episodes with a child starting "
                                  f"{start:%Y-%m-%d} (exclusive) to {end:%Y-%m-%d}, age at the episode's start")


# --- the audit ------------------------------------------------------------------------------------------------
@dataclass
class _Attr:
    name: str
    labels: pd.Series
    groups: list[str]
    codes: np.ndarray
    metrics: fm.GroupMetrics
    boot: dict[str, dict[str, np.ndarray]]
    reference: str
    reference_source: str
    components: dict[str, tuple[str, str]]


def audit_predictions(predictions: pd.DataFrame, config: Config, *, replicates: int | None = None,
                      seed: int | None = None, early_help: EarlyHelpCounts | None = None,
                      model: dict[str, Any] | None = None) -> AuditResult:
    """Audit test-period predictions: metrics per group at each operating point, disparities with family
    bootstrap intervals, small-cell suppression, age coverage and the verdict (`pass` or `review`)."""
    t0 = time.perf_counter()
    fc = config.fairness
    replicates = fc.bootstrap_replicates if replicates is None else replicates
    if replicates < 1:
        raise UpstreamError("--replicates must be at least 1")
    seed = config.model.seed if seed is None else seed
    singles = list(dict.fromkeys(fc.groups))
    pairs = [(a, b) for a, b in fc.intersections]
    _check(predictions, singles + [x for p in pairs for x in p])
    frame = predictions.loc[predictions["label"].notna()].copy()
    if frame.empty:
        raise UpstreamError("the predictions hold no labelled rows; nothing to audit")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame = frame.sort_values(["as_of", "child_id"], kind="stable").reset_index(drop=True)
    y = frame["label"].astype(int).to_numpy()
    prob = frame["probability"].to_numpy(float)
    ops = operating_points(frame, config)
    selections = {op: sel for op, (_, sel) in ops.items()}
    family_codes = pd.factorize(frame["family_id"])[0]
    child_codes = pd.factorize(frame["child_id"])[0]
    max_rows_per_child = int(np.bincount(child_codes).max())
    weights = fm.family_weights(family_codes, replicates, seed=seed)
    hubs = config.council.hub_names
    threshold = fc.small_cell_threshold

    # Attributes: single ones, then intersections (labelled "a / b").
    attrs: dict[str, _Attr] = {}
    single_labels = {a: fm.attribute_values(frame, a) for a in dict.fromkeys(singles + [x for p in pairs for x in p])}
    specs: list[tuple[str, pd.Series, dict[str, tuple[str, str]]]] = [(a, single_labels[a], {}) for a in singles]
    for a, b in pairs:
        name = fm.intersection_name(a, b)
        joined = (single_labels[a] + " / " + single_labels[b]).rename(name)
        comps = dict(zip(joined, zip(single_labels[a], single_labels[b], strict=True), strict=True))
        specs.append((name, joined, comps))
    for name, labels, comps in specs:
        present = list(pd.unique(labels))
        if "_x_" in name:
            a, b = name.split("_x_", 1)
            oa = fm.ordered_groups(a, list(pd.unique(single_labels[a])), hubs=hubs)
            ob = fm.ordered_groups(b, list(pd.unique(single_labels[b])), hubs=hubs)
            groups = [f"{x} / {z}" for x in oa for z in ob if f"{x} / {z}" in set(present)]
        else:
            groups = fm.ordered_groups(name, present, hubs=hubs)
        codes = pd.Categorical(labels, categories=groups).codes.astype(np.int64)
        gm = fm.metric_frames(y, prob, selections, labels, groups=groups)
        boot = fm.bootstrap_rates(codes, len(groups), family_codes, weights, y, prob, selections)
        configured = fc.reference_groups.get(name)
        if configured is not None:
            if configured not in groups:
                raise UpstreamError(f"fairness.reference_groups.{name}: '{configured}' is not a group in the "
                                    f"predictions (groups: {', '.join(groups)})")
            reference, source = configured, "configured"
        else:
            reference, source = str(gm.fixed["n"].idxmax()), "largest group"
        attrs[name] = _Attr(name, labels, groups, codes, gm, boot, reference, source, comps)
    unknown_refs = sorted(set(fc.reference_groups) - set(attrs))
    if unknown_refs:
        raise UpstreamError(f"fairness.reference_groups: {', '.join(unknown_refs)} not an audited group "
                            f"(audited: {', '.join(attrs)})")

    # --- cells, relations, suppression ------------------------------------------------------------------------
    values: dict[tuple, float] = {}
    relations: list[Relation] = []
    extra_primary: set[tuple] = set()
    op_names = list(selections)

    def row_cells(attr: str, group: str, fixed: pd.Series, at: dict[str, pd.Series]) -> None:
        for f in fm.FIXED_COUNTS:
            values[(attr, group, "", f)] = float(fixed[f])
        relations.append(Relation((attr, group, "", "n"), ((attr, group, "", "n_positive"),
                                                           (attr, group, "", "n_negative"))))
        for op in op_names:
            for f in fm.OP_COUNTS:
                values[(attr, group, op, f)] = float(at[op][f])

            def c(field: str, _op: str = op) -> tuple:
                return (attr, group, "" if field in fm.FIXED_COUNTS else _op, field)
            for total, parts in (("n", ("n_selected", "n_unselected")), ("n_positive", ("tp", "fn")),
                                 ("n_negative", ("fp", "tn")), ("n_selected", ("tp", "fp")),
                                 ("n_unselected", ("fn", "tn"))):
                relations.append(Relation(c(total), tuple(c(p) for p in parts)))

    first = next(iter(attrs.values()))
    row_cells(*OVERALL, first.metrics.overall_fixed, first.metrics.overall_at)
    masks = {("", "n"): np.ones(len(y), bool), ("", "n_positive"): y == 1, ("", "n_negative"): y == 0}
    for op, sel in selections.items():
        masks.update({(op, "n_selected"): sel, (op, "n_unselected"): ~sel, (op, "tp"): sel & (y == 1),
                      (op, "fp"): sel & (y == 0), (op, "fn"): ~sel & (y == 1), (op, "tn"): ~sel & (y == 0)})
    for attr in attrs.values():
        gm = attr.metrics
        for g in attr.groups:
            row_cells(attr.name, g, gm.fixed.loc[g], {op: gm.at[op].loc[g] for op in op_names})
        for (op, f), mask in masks.items():
            rows_ = np.array([values[(attr.name, g, op, f)] for g in attr.groups])
            relations.append(Relation((*OVERALL, op, f), tuple((attr.name, g, op, f) for g in attr.groups)))
            # Row counts can hide few children (one child repeats across as-of dates): count them where it matters.
            if np.any((rows_ >= threshold) & (rows_ < threshold * max_rows_per_child)):
                kids = fm.distinct_children(attr.codes, len(attr.groups), child_codes, mask)
                extra_primary |= {(attr.name, g, op, f) for g, k in zip(attr.groups, kids, strict=True)
                                  if k < threshold}
    overall_kids = {key: len(np.unique(child_codes[m])) for key, m in masks.items()}
    extra_primary |= {(*OVERALL, op, f) for (op, f), k in overall_kids.items() if k < threshold}
    # Intersections add up to their margins; DfE codes add up to their broad ethnic group.
    for attr in attrs.values():
        if attr.components:
            a, b = attr.name.split("_x_", 1)
            for side, margin in ((0, a), (1, b)):
                members: dict[str, list[str]] = {}
                for g in attr.groups:
                    members.setdefault(attr.components[g][side], []).append(g)
                for value, gs in members.items():
                    for op, f in masks:
                        if (margin, value, op, f) in values:
                            relations.append(Relation((margin, value, op, f), tuple((attr.name, g, op, f)
                                                                                      for g in gs)))
    if "ethnicity" in attrs and "ethnic_group" in attrs:
        nest = pd.crosstab(attrs["ethnicity"].labels, attrs["ethnic_group"].labels)
        for group in attrs["ethnic_group"].groups:
            codes_in = [c for c in nest.index if nest.loc[c, group] > 0]
            if all((nest.loc[c] > 0).sum() == 1 for c in codes_in):
                for op, f in masks:
                    relations.append(Relation(("ethnic_group", group, op, f),
                                              tuple(("ethnicity", c, op, f) for c in codes_in)))

    # Age coverage cells: flagged and entrants, under 5 and 5+.
    age_labels = fm.attribute_values(frame, "age_band") if "age_band" in frame else None
    age_cov_keys: list[tuple[str, str]] = []
    if age_labels is not None:
        five = (age_labels != "0-4").to_numpy() & (age_labels != fm.NOT_RECORDED).to_numpy()
        under = (age_labels == "0-4").to_numpy()
        for op, f, mask in [*((op, "n_selected", sel) for op, sel in selections.items()), ("", "n_positive", y == 1)]:
            age_cov_keys.append((op, f))
            for label, part in ((UNDER_5, under), (FIVE_PLUS, five)):
                values[(AGE, label, op, f)] = float((mask & part).sum())
                if len(np.unique(child_codes[mask & part])) < threshold:
                    extra_primary.add((AGE, label, op, f))
            parts = [(AGE, UNDER_5, op, f), (AGE, FIVE_PLUS, op, f)]
            not_recorded = mask & ~under & ~five
            if not_recorded.any():
                values[(AGE, fm.NOT_RECORDED, op, f)] = float(not_recorded.sum())
                parts.append((AGE, fm.NOT_RECORDED, op, f))
            relations.append(Relation((*OVERALL, op, f), tuple(parts)))
            if "age_band" in attrs:
                bands = attrs["age_band"].groups
                relations.append(Relation((AGE, UNDER_5, op, f), tuple(("age_band", g, op, f)
                                                                        for g in bands if g == "0-4")))
                relations.append(Relation((AGE, FIVE_PLUS, op, f), tuple(
                    ("age_band", g, op, f) for g in bands if g not in ("0-4", fm.NOT_RECORDED))))
    if early_help is not None and early_help.share is None:
        values[(EARLY_HELP, "all", "", "episodes")] = float(early_help.under_5 + early_help.five_plus)
        values[(EARLY_HELP, UNDER_5, "", "episodes")] = float(early_help.under_5)
        values[(EARLY_HELP, FIVE_PLUS, "", "episodes")] = float(early_help.five_plus)
        relations.append(Relation((EARLY_HELP, "all", "", "episodes"),
                                  ((EARLY_HELP, UNDER_5, "", "episodes"), (EARLY_HELP, FIVE_PLUS, "", "episodes"))))

    supp = suppress(values, relations, threshold=threshold, primary=extra_primary)
    hidden = supp.suppressed
    count_reason = supp.reason

    # --- the report -----------------------------------------------------------------------------------------
    band = (float(fc.band[0]), float(fc.band[1]))
    reasons: list[str] = []
    notes: list[str] = []
    not_assessed: list[str] = []
    op_labels = {op: label for op, (label, _) in ops.items()}

    def rate_block(attr: str, group: str, op: str, point: pd.Series, rates: dict[str, tuple[str, ...]],
                   suppressed: dict[str, str], prefix: str) -> tuple[dict, dict]:
        metrics, hidden_rates = {}, {}
        for rate, inputs in rates.items():
            bad = [f for f in inputs if (attr, group, "" if f in fm.FIXED_COUNTS else op, f) in hidden]
            if bad:
                metrics[rate] = None
                hidden_rates[rate] = True
                suppressed[f"{prefix}metrics.{rate}"] = DERIVED.format(inputs=", ".join(bad))
            else:
                metrics[rate] = _num(point[rate])
        return metrics, hidden_rates

    def counts_block(attr: str, group: str, op: str, fields: tuple[str, ...], suppressed: dict[str, str],
                     prefix: str) -> dict:
        out = {}
        for f in fields:
            key = (attr, group, op, f)
            if key in hidden:
                out[f] = None
                suppressed[f"{prefix}counts.{f}"] = count_reason(key)
            else:
                out[f] = int(values[key])
        return out

    def overall_row() -> dict:
        suppressed: dict[str, str] = {}
        gm = first.metrics
        row = {"group": "all", "counts": counts_block(*OVERALL, "", fm.FIXED_COUNTS, suppressed, "")}
        row["metrics"], _ = rate_block(*OVERALL, "", gm.overall_fixed, fm.FIXED_RATES, suppressed, "")
        row["operating_points"] = {}
        for op in op_names:
            p = f"operating_points.{op}."
            block = {"counts": counts_block(*OVERALL, op, fm.OP_COUNTS, suppressed, p)}
            block["metrics"], _ = rate_block(*OVERALL, op, gm.overall_at[op], fm.OP_RATES, suppressed, p)
            row["operating_points"][op] = block
        row["suppressed"] = suppressed
        return row

    def disparity(attr: _Attr, gi: int, ri: int, rate: str, point_g: float, point_r: float, samples: np.ndarray | None
                  ) -> dict:
        ratio = point_g / point_r if point_r and math.isfinite(point_r) and math.isfinite(point_g) else float("nan")
        if samples is None:
            return {"ratio": _num(ratio, 4), "ci": None, "flagged": False,
                    "note": "point estimate only (not bootstrapped)"}
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = samples[:, gi] / samples[:, ri]
        lo, hi = fm.percentile_interval(ratios[:, None])
        lo, hi = float(lo[0]), float(hi[0])
        ci = [_num(lo, 4), _num(hi, 4)] if math.isfinite(lo) and math.isfinite(hi) else None
        return {"ratio": _num(ratio, 4), "ci": ci, "flagged": fm.flagged(lo, hi, band) if gi != ri else False}

    tables = []
    for attr in attrs.values():
        gm = attr.metrics
        ri = attr.groups.index(attr.reference)
        ref_hidden: dict[str, dict[str, bool]] = {}
        rows = []
        # The reference row first, so its suppressions are known when dividing by it.
        order = [ri] + [i for i in range(len(attr.groups)) if i != ri]
        built: dict[int, dict] = {}
        for gi in order:
            g = attr.groups[gi]
            suppressed: dict[str, str] = {}
            row: dict[str, Any] = {"group": g, "reference": gi == ri,
                                   "counts": counts_block(attr.name, g, "", fm.FIXED_COUNTS, suppressed, "")}
            row["metrics"], hid = rate_block(attr.name, g, "", gm.fixed.loc[g], fm.FIXED_RATES, suppressed, "")
            blocks = {"": (row, hid, gm.fixed, fm.FIXED_RATES, attr.boot["fixed"], "")}
            row["operating_points"] = {}
            for op in op_names:
                p = f"operating_points.{op}."
                block = {"counts": counts_block(attr.name, g, op, fm.OP_COUNTS, suppressed, p)}
                block["metrics"], hid_op = rate_block(attr.name, g, op, gm.at[op].loc[g], fm.OP_RATES, suppressed, p)
                row["operating_points"][op] = block
                blocks[op] = (block, hid_op, gm.at[op], fm.OP_RATES, attr.boot[op], p)
            if gi == ri:
                ref_hidden = {op: b[1] for op, b in blocks.items()}
            for op, (block, hid_b, table, rates, boot, p) in blocks.items():
                intervals, disparities = {}, {}
                for rate in rates:
                    if hid_b.get(rate):
                        intervals[rate] = None
                        disparities[rate] = None
                        suppressed[f"{p}disparities.{rate}"] = "suppressed: the group's metric is suppressed"
                        # Shown groups whose recall or calibration rests on too few children to publish cannot be
                        # judged either way; the board is told which (a bootstrap of a handful of children is not
                        # evidence, so they do not drive the verdict).
                        if rate in fm.VERDICT_METRICS and (attr.name, g, "", "n") not in hidden:
                            where = "" if op == "" else f" at {op_labels[op]}"
                            not_assessed.append(f"{rate.replace('_', ' ')}{where}: {fm.attribute_label(attr.name)} "
                                                f"'{g}'")
                        continue
                    samples = boot.get(rate) if rate in fm.BOOTSTRAPPED else None
                    if samples is not None:
                        lo, hi = fm.percentile_interval(samples[:, gi:gi + 1])
                        intervals[rate] = [_num(lo[0]), _num(hi[0])] if np.isfinite(lo[0]) else None
                    else:
                        intervals[rate] = None
                    if ref_hidden[op].get(rate):
                        disparities[rate] = None
                        suppressed[f"{p}disparities.{rate}"] = "suppressed: the reference group's metric is suppressed"
                        continue
                    d = disparity(attr, gi, ri, rate, float(table.loc[g, rate]), float(table.loc[attr.reference, rate]),
                                  samples)
                    disparities[rate] = d
                    if d["flagged"]:
                        where = "" if op == "" else f" at {op_labels[op]}"
                        text = (f"{rate.replace('_', ' ')}{where}: {fm.attribute_label(attr.name)} '{g}' is "
                                f"{d['ratio']:.2f}x '{attr.reference}' (95% CI {d['ci'][0]:.2f}-{d['ci'][1]:.2f})")
                        (reasons if rate in fm.VERDICT_METRICS else notes).append(text)
                block["intervals"] = intervals
                block["disparities"] = disparities
            row["suppressed"] = suppressed
            built[gi] = row
        rows = [built[i] for i in range(len(attr.groups))]
        tables.append({"attribute": attr.name, "label": fm.attribute_label(attr.name),
                       "kind": "intersection" if attr.components else "group",
                       "reference": attr.reference, "reference_source": attr.reference_source, "groups": rows})

    # Age coverage, side by side.
    age_cov: dict[str, Any] = {"definition": (
        "Shares of child x as-of-date rows aged 5 or over at the as-of date: among the rows flagged at each "
        "operating point, among the rows of children who entered care within the horizon, and among early "
        "help episodes (age at the episode's start)."), "flagged": {}, "entrants": None, "early_help": None}

    def share_block(op: str, f: str) -> dict:
        five_key, under_key = (AGE, FIVE_PLUS, op, f), (AGE, UNDER_5, op, f)
        total_key = (*OVERALL, op, f)
        out = {"aged_5_plus": None if five_key in hidden else int(values[five_key]),
               "total": None if total_key in hidden else int(values[total_key]), "share_5_plus": None}
        if five_key in hidden or total_key in hidden or under_key in hidden:
            out["suppressed"] = DERIVED.format(inputs="count under the threshold")
        elif values[total_key]:
            out["share_5_plus"] = _num(values[five_key] / values[total_key], 4)
        return out

    if age_cov_keys:
        for op, f in age_cov_keys:
            if f == "n_selected":
                age_cov["flagged"][op] = share_block(op, f)
            else:
                age_cov["entrants"] = share_block(op, f)
    if early_help is not None:
        if early_help.share is not None:
            age_cov["early_help"] = {"share_5_plus": _num(early_help.share, 4), "source": early_help.source}
        else:
            keys = {k: (EARLY_HELP, k, "", "episodes") for k in ("all", UNDER_5, FIVE_PLUS)}
            block = {"aged_5_plus": None if keys[FIVE_PLUS] in hidden else int(values[keys[FIVE_PLUS]]),
                     "total": None if keys["all"] in hidden else int(values[keys["all"]]),
                     "share_5_plus": None, "source": early_help.source}
            if any(k in hidden for k in keys.values()):
                block["suppressed"] = DERIVED.format(inputs="count under the threshold")
            elif values[keys["all"]]:
                block["share_5_plus"] = _num(values[keys[FIVE_PLUS]] / values[keys["all"]], 4)
            age_cov["early_help"] = block
    else:
        age_cov["early_help_note"] = ("not available: run `upstream audit --data DIR` with the extract, or log "
                                      f"one of {', '.join(EARLY_HELP_RUN_METRICS)} with the training run")

    verdict = REVIEW if reasons else PASS
    dates = sorted(frame["as_of"].unique())
    report: dict[str, Any] = {
        "schema": "upstream.fairness_audit/1",
        "decision_support": DECISION_SUPPORT,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": model or {},
        "verdict": verdict,
        "reasons": reasons,
        "other_flags": notes,
        "not_assessed": not_assessed,
        "verdict_rule": (
            "review when any recall or calibration disparity of an unsuppressed group has its whole 95% bootstrap "
            f"interval outside [{band[0]}, {band[1]}], at any operating point; otherwise pass. Recall (who the "
            "model misses) and calibration (whether stated risk is right) matter most for an assistive, "
            "voluntary intervention; other disparities are shown, not used for the verdict."),
        "settings": {"band": list(band), "bootstrap_replicates": replicates, "confidence": 0.95,
                     "bootstrap_unit": "family (resampled with replacement; selections held fixed)",
                     "small_cell_threshold": threshold, "top_share": fc.top_share, "seed": seed,
                     "reference_groups": {t["attribute"]: {"group": t["reference"], "source": t["reference_source"]}
                                          for t in tables}},
        "population": {"rows": "child x as-of date rows of the test period with an observed label",
                       "as_of_dates": [pd.Timestamp(d).strftime("%Y-%m-%d") for d in dates]},
        "operating_points": {op: {"label": op_labels[op]} for op in op_names},
        "overall": overall_row(),
        "tables": tables,
        "age_coverage": age_cov,
        "suppression": {
            "threshold": threshold,
            "rule": (f"any count under {threshold} (rows, or distinct children) is hidden, every rate computed "
                     "from a hidden count is hidden, and further counts are hidden so that none can be worked "
                     "out from totals, margins or complementary counts"),
            "hidden_counts": len(hidden),
        },
    }
    return AuditResult(verdict=verdict, reasons=tuple(reasons), report=report, seconds=time.perf_counter() - t0)


# --- a registered version -------------------------------------------------------------------------------------
PREDICTIONS_ARTIFACT = "predictions/test_predictions.parquet"
ARTIFACT_DIR = "fairness"
RUN_METRICS_SHOWN = (
    "test_model_roc_auc", "test_model_pr_auc", "test_model_brier", "test_model_ece",
    "test_model_precision_at_capacity", "test_model_recall_at_capacity", "test_model_recall_not_known_at_capacity",
    "test_model_precision_at_top2pct", "test_model_recall_at_top2pct", "test_logistic_pr_auc", "test_rule_pr_auc",
    "test_model_expected_precision_ratio_at_top2pct",
)
RUN_PARAMS_SHOWN = ("train_dates", "validation_dates", "test_dates", "rows_train", "rows_validation", "rows_test",
                    "horizon_months", "outcome", "feature_set_version", "data_fingerprint", "config_hash",
                    "n_features", "calibration", "imbalance")


def audit_version(config: Config, out_dir: str | Path, *, version: str | int | None = None,
                  alias: str | None = None, data_dir: str | Path | None = None, replicates: int | None = None,
                  tracking_uri: str | None = None, log: Callable[[str], None] | None = None
                  ) -> tuple[AuditResult, str, str]:
    """Audit a registered version (default: the challenger), write the four outputs to `out_dir`, log them to the
    version's run under `fairness/` and set the version tags `fairness_verdict` and `fairness_reasons`.

    Returns (result, name, version).
    """
    import mlflow

    from governance.audit_report import write_outputs
    from training.protected import KEY_TAG as PREDICTIONS_KEY_TAG
    from training.protected import predictions_path
    from training.registry import _resolve_version
    from training.splits import horizon_end
    from training.tracking import CHALLENGER, using_store

    say = log or (lambda _msg: None)
    if version is not None and alias is not None:
        raise UpstreamError("give --version or --alias, not both")
    ref = version if version is not None else (alias or CHALLENGER)
    name = config.model.registered_name
    with using_store(tracking_uri) as client, tempfile.TemporaryDirectory(prefix="upstream-audit-") as tmp:
        resolved = _resolve_version(client, name, ref)
        mv = client.get_model_version(name, resolved)
        run = client.get_run(mv.run_id)
        key = run.data.tags.get(PREDICTIONS_KEY_TAG)
        if key:  # the test predictions in the protected folder beside the store (training.protected)
            path = predictions_path(key, client.tracking_uri)
            if not path.is_file():
                raise UpstreamError(f"version {resolved} of '{name}': its test predictions are not at {path} "
                                    f"(the protected folder of this tracking store; see docs/training.md)")
        else:  # a run logged before predictions left the tracking store
            try:
                path = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=PREDICTIONS_ARTIFACT,
                                                           dst_path=tmp, tracking_uri=client.tracking_uri)
            except Exception as exc:  # MLflow raises several types for a missing artifact
                raise UpstreamError(f"version {resolved} of '{name}' has no test predictions (no "
                                    f"{PREDICTIONS_KEY_TAG} tag, no {PREDICTIONS_ARTIFACT} in run {mv.run_id}): "
                                    f"{exc}") from exc
        predictions = pd.read_parquet(path)
        say(f"auditing '{name}' version {resolved} (run {mv.run_id}): {len(predictions):,} test rows")
        early: EarlyHelpCounts | None = None
        if data_dir is not None:
            dates = pd.to_datetime(predictions["as_of"])
            early = early_help_from_extract(data_dir, config, start=dates.min(),
                                            end=horizon_end(dates.max(), config.outcome.horizon_months))
        else:
            for key in EARLY_HELP_RUN_METRICS:
                if key in run.data.metrics:
                    early = EarlyHelpCounts(0, 0, source=f"training run metric {key}",
                                            share=float(run.data.metrics[key]))
                    break
        aliases = sorted(a for a, v in (client.get_registered_model(name).aliases or {}).items()
                         if str(v) == resolved)
        model = {"name": name, "version": resolved, "run_id": mv.run_id, "aliases": aliases,
                 "tags": {k: v for k, v in (mv.tags or {}).items() if not k.startswith("fairness_")},
                 "params": {k: run.data.params[k] for k in RUN_PARAMS_SHOWN if k in run.data.params},
                 "metrics": {k: run.data.metrics[k] for k in RUN_METRICS_SHOWN if k in run.data.metrics}}
        result = audit_predictions(predictions, config, replicates=replicates, early_help=early, model=model)
        say(f"audit computed in {result.seconds:.1f}s: verdict {result.verdict}")
        files = write_outputs(result, out_dir, config)
        for file in files:
            client.log_artifact(mv.run_id, str(file), artifact_path=ARTIFACT_DIR)
        client.set_model_version_tag(name, resolved, "fairness_reasons", result.short_reasons())
        client.set_model_version_tag(name, resolved, "fairness_audited_at", result.report["generated_at"])
        # The gate reads this tag: set it last, once the report it summarises is logged.
        client.set_model_version_tag(name, resolved, "fairness_verdict", result.verdict)
    return result, name, resolved
