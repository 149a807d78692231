"""The audit's JSON-ready report: counts and rates per group after suppression, disparities with intervals, age
coverage, and the findings (flags that drive the verdict, other flags, groups that could not be assessed)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from governance import _metrics as fm
from governance._attributes import Attribute
from governance._cells import (
    AGE,
    ANY_POINT,
    FIVE_PLUS,
    OVERALL,
    UNDER_5,
    Cell,
    CountTable,
    EarlyHelpCounts,
    cell,
    early_help_cell,
)
from governance._suppression import DERIVED, Suppression

# Metric names for an early-help figure that a training run may have logged (used when --data is not given).
EARLY_HELP_RUN_METRICS = ("early_help_aged_5_plus_share", "early_help_over_fives_share")


def _num(value: object, digits: int = 6) -> float | int | None:
    """A JSON number: None for missing or non-finite, whole numbers above 1 as int, others rounded."""
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    return int(v) if v.is_integer() and abs(v) > 1 else round(v, digits)


@dataclass
class Findings:
    """What the audit flags: `reasons` drive the verdict, `notes` are shown only, `not_assessed` lists shown
    groups whose verdict metric is suppressed."""

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_assessed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Published:
    """The counts table after suppression: what may be shown, and why the rest is hidden."""

    table: CountTable
    suppression: Suppression

    def hidden(self, key: Cell) -> bool:
        return key in self.suppression.suppressed

    def counts(self, attribute: str, group: str, point: str, names: tuple[str, ...], suppressed: dict[str, str],
               prefix: str) -> dict[str, int | None]:
        """Counts of one block; a hidden count is None and its reason goes to `suppressed` under `prefix`."""
        out: dict[str, int | None] = {}
        for name in names:
            key = Cell(attribute, group, point, name)
            if self.hidden(key):
                out[name] = None
                suppressed[f"{prefix}counts.{name}"] = self.suppression.reason(key)
            else:
                out[name] = int(self.table.values[key])
        return out

    def rates(self, attribute: str, group: str, point: str, estimates: pd.Series, rates: dict[str, tuple[str, ...]],
              suppressed: dict[str, str], prefix: str) -> tuple[dict[str, Any], dict[str, bool]]:
        """Rates of one block, each hidden when a count it is computed from is; returns (metrics, hidden)."""
        metrics: dict[str, Any] = {}
        hidden_rates: dict[str, bool] = {}
        for rate, inputs in rates.items():
            bad = [name for name in inputs if self.hidden(cell(attribute, group, point, name))]
            if bad:
                metrics[rate] = None
                hidden_rates[rate] = True
                suppressed[f"{prefix}metrics.{rate}"] = DERIVED.format(inputs=", ".join(bad))
            else:
                metrics[rate] = _num(estimates[rate])
        return metrics, hidden_rates


def _prefix(point: str) -> str:
    return "" if point == ANY_POINT else f"operating_points.{point}."


def overall_row(published: Published, attr: Attribute, points: list[str]) -> dict[str, Any]:
    """The whole population's counts and rates (no intervals or disparities)."""
    suppressed: dict[str, str] = {}
    gm = attr.metrics
    row: dict[str, Any] = {"group": "all",
                           "counts": published.counts(*OVERALL, ANY_POINT, fm.FIXED_COUNTS, suppressed, "")}
    row["metrics"], _ = published.rates(*OVERALL, ANY_POINT, gm.overall_fixed, fm.FIXED_RATES, suppressed, "")
    row["operating_points"] = {}
    for point in points:
        p = _prefix(point)
        block: dict[str, Any] = {"counts": published.counts(*OVERALL, point, fm.OP_COUNTS, suppressed, p)}
        block["metrics"], _ = published.rates(*OVERALL, point, gm.overall_at[point], fm.OP_RATES, suppressed, p)
        row["operating_points"][point] = block
    row["suppressed"] = suppressed
    return row


def disparity(gi: int, ri: int, point_g: float, point_r: float, samples: np.ndarray | None,
              band: tuple[float, float]) -> dict[str, Any]:
    """Group `gi`'s metric over the reference group's (`ri`), with its bootstrap interval and the flag."""
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


@dataclass(frozen=True)
class _Block:
    """One block of a group's row (the point-independent part, or one operating point) being filled in."""

    out: dict[str, Any]
    hidden: dict[str, bool]
    estimates: pd.DataFrame
    rates: dict[str, tuple[str, ...]]
    boot: dict[str, np.ndarray]
    prefix: str


@dataclass
class _AttributeTable:
    """Builds one attribute's table; flags go to `findings`."""

    published: Published
    attr: Attribute
    points: list[str]
    band: tuple[float, float]
    op_labels: dict[str, str]
    findings: Findings
    reference_hidden: dict[str, dict[str, bool]] = field(default_factory=dict)

    def _where(self, point: str) -> str:
        return "" if point == ANY_POINT else f" at {self.op_labels[point]}"

    def _blocks(self, g: str, suppressed: dict[str, str], row: dict[str, Any]) -> dict[str, _Block]:
        """Fill in the group's metrics (point-independent and per operating point); return the blocks."""
        attr, published, gm = self.attr, self.published, self.attr.metrics
        metrics, hidden = published.rates(attr.name, g, ANY_POINT, gm.fixed.loc[g], fm.FIXED_RATES, suppressed, "")
        row["metrics"] = metrics
        blocks = {ANY_POINT: _Block(row, hidden, gm.fixed, fm.FIXED_RATES, attr.boot["fixed"], "")}
        row["operating_points"] = {}
        for point in self.points:
            p = _prefix(point)
            out: dict[str, Any] = {"counts": published.counts(attr.name, g, point, fm.OP_COUNTS, suppressed, p)}
            out["metrics"], hidden_at = published.rates(attr.name, g, point, gm.at[point].loc[g], fm.OP_RATES,
                                                        suppressed, p)
            row["operating_points"][point] = out
            blocks[point] = _Block(out, hidden_at, gm.at[point], fm.OP_RATES, attr.boot[point], p)
        return blocks

    def _not_assessed(self, gi: int, point: str, rate: str) -> None:
        # Shown groups whose recall or calibration rests on too few children to publish cannot be judged either
        # way; the board is told which (a bootstrap of a handful of children is not evidence, so they do not
        # drive the verdict).
        g = self.attr.groups[gi]
        if rate in fm.VERDICT_METRICS and not self.published.hidden(Cell(self.attr.name, g, ANY_POINT, "n")):
            self.findings.not_assessed.append(f"{rate.replace('_', ' ')}{self._where(point)}: "
                                              f"{fm.attribute_label(self.attr.name)} '{g}'")

    def _flag(self, gi: int, point: str, rate: str, d: dict[str, Any]) -> None:
        text = (f"{rate.replace('_', ' ')}{self._where(point)}: {fm.attribute_label(self.attr.name)} "
                f"'{self.attr.groups[gi]}' is {d['ratio']:.2f}x '{self.attr.reference}' "
                f"(95% CI {d['ci'][0]:.2f}-{d['ci'][1]:.2f})")
        (self.findings.reasons if rate in fm.VERDICT_METRICS else self.findings.notes).append(text)

    def _judge(self, gi: int, ri: int, point: str, block: _Block, suppressed: dict[str, str]) -> None:
        """Intervals and disparities (with flags) of one block, unless suppressed."""
        g, reference_hidden = self.attr.groups[gi], self.reference_hidden[point]
        intervals: dict[str, Any] = {}
        disparities: dict[str, Any] = {}
        for rate in block.rates:
            if block.hidden.get(rate):
                intervals[rate] = disparities[rate] = None
                suppressed[f"{block.prefix}disparities.{rate}"] = "suppressed: the group's metric is suppressed"
                self._not_assessed(gi, point, rate)
                continue
            samples = block.boot.get(rate) if rate in fm.BOOTSTRAPPED else None
            intervals[rate] = None
            if samples is not None:
                lo, hi = fm.percentile_interval(samples[:, gi:gi + 1])
                intervals[rate] = [_num(lo[0]), _num(hi[0])] if np.isfinite(lo[0]) else None
            if reference_hidden.get(rate):
                disparities[rate] = None
                suppressed[f"{block.prefix}disparities.{rate}"] = ("suppressed: the reference group's metric is "
                                                                   "suppressed")
                continue
            d = disparity(gi, ri, float(block.estimates.loc[g, rate]),
                          float(block.estimates.loc[self.attr.reference, rate]), samples, self.band)
            disparities[rate] = d
            if d["flagged"]:
                self._flag(gi, point, rate, d)
        block.out["intervals"] = intervals
        block.out["disparities"] = disparities

    def row(self, gi: int, ri: int) -> dict[str, Any]:
        """Group `gi`'s row; the reference row (`ri`) must be built first."""
        g = self.attr.groups[gi]
        suppressed: dict[str, str] = {}
        row: dict[str, Any] = {"group": g, "reference": gi == ri, "counts": self.published.counts(
            self.attr.name, g, ANY_POINT, fm.FIXED_COUNTS, suppressed, "")}
        blocks = self._blocks(g, suppressed, row)
        if gi == ri:
            self.reference_hidden = {point: b.hidden for point, b in blocks.items()}
        for point, block in blocks.items():
            self._judge(gi, ri, point, block, suppressed)
        row["suppressed"] = suppressed
        return row


def attribute_table(published: Published, attr: Attribute, points: list[str], band: tuple[float, float],
                    op_labels: dict[str, str], findings: Findings) -> dict[str, Any]:
    """One attribute's table: a row per group (reference marked) with counts, rates, intervals and disparities.

    Parameters
    ----------
    published : Published
        The counts after suppression.
    attr : Attribute
        The attribute, its groups, point metrics, bootstrap and reference group.
    points : list of str
        The operating points, in order.
    band : (float, float)
        A disparity is flagged when its whole interval lies outside it.
    op_labels : dict of str to str
        Each operating point's label, for the findings.
    findings : Findings
        Flags and unassessed groups are appended to it.

    Returns
    -------
    dict
        The table as audit.json holds it.
    """
    builder = _AttributeTable(published, attr, points, band, op_labels, findings)
    ri = attr.groups.index(attr.reference)
    # The reference row first, so its suppressions are known when dividing by it.
    built = {gi: builder.row(gi, ri) for gi in [ri] + [i for i in range(len(attr.groups)) if i != ri]}
    return {"attribute": attr.name, "label": fm.attribute_label(attr.name),
            "kind": "intersection" if attr.is_intersection else "group",
            "reference": attr.reference, "reference_source": attr.reference_source,
            "groups": [built[i] for i in range(len(attr.groups))]}


def _share_block(published: Published, five: Cell, under: Cell, total: Cell, **extra: str) -> dict[str, Any]:
    values = published.table.values
    out: dict[str, Any] = {"aged_5_plus": None if published.hidden(five) else int(values[five]),
                           "total": None if published.hidden(total) else int(values[total]), "share_5_plus": None,
                           **extra}
    if published.hidden(five) or published.hidden(total) or published.hidden(under):
        out["suppressed"] = DERIVED.format(inputs="count under the threshold")
    elif values[total]:
        out["share_5_plus"] = _num(values[five] / values[total], 4)
    return out


def age_coverage(published: Published, age_keys: list[tuple[str, str]], early_help: EarlyHelpCounts | None
                 ) -> dict[str, Any]:
    """Shares aged 5 and over among flagged rows, entrants and early help episodes, side by side."""
    age_cov: dict[str, Any] = {"definition": (
        "Shares of child x as-of-date rows aged 5 or over at the as-of date: among the rows flagged at each "
        "operating point, among the rows of children who entered care within the horizon, and among early "
        "help episodes (age at the episode's start)."), "flagged": {}, "entrants": None, "early_help": None}
    for point, count in age_keys:
        block = _share_block(published, Cell(AGE, FIVE_PLUS, point, count), Cell(AGE, UNDER_5, point, count),
                             Cell(*OVERALL, point, count))
        if count == "n_selected":
            age_cov["flagged"][point] = block
        else:
            age_cov["entrants"] = block
    if early_help is None:
        age_cov["early_help_note"] = ("not available: run `upstream audit --data DIR` with the extract, or log "
                                      f"one of {', '.join(EARLY_HELP_RUN_METRICS)} with the training run")
    elif early_help.share is not None:
        age_cov["early_help"] = {"share_5_plus": _num(early_help.share, 4), "source": early_help.source}
    else:
        age_cov["early_help"] = _share_block(published, early_help_cell(FIVE_PLUS), early_help_cell(UNDER_5),
                                             early_help_cell("all"), source=early_help.source)
    return age_cov
