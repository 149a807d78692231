"""The audited attributes: each one's group labels per row, groups in reader order, point metrics, bootstrap and
reference group. Single attributes come first, then intersections (groups labelled "a / b")."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.config import FairnessConfig
from core.errors import UpstreamError
from governance import _metrics as fm


@dataclass(frozen=True)
class AuditRows:
    """The labelled test-period rows the audit works on, as arrays (one entry per child x as-of row)."""

    frame: pd.DataFrame
    y: np.ndarray
    probability: np.ndarray
    selections: dict[str, np.ndarray]
    family_codes: np.ndarray
    child_codes: np.ndarray
    weights: np.ndarray  # bootstrap resampling counts (replicates x families)

    @property
    def max_rows_per_child(self) -> int:
        return int(np.bincount(self.child_codes).max())


@dataclass(frozen=True)
class Attribute:
    """One audited attribute (or intersection) with its per-group point metrics and bootstrap replicates."""

    name: str
    labels: pd.Series
    groups: list[str]
    codes: np.ndarray
    metrics: fm.GroupMetrics
    boot: dict[str, dict[str, np.ndarray]]
    reference: str
    reference_source: str
    # for an intersection: group -> (its value of the first attribute, its value of the second)
    components: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def is_intersection(self) -> bool:
        return bool(self.components)


def _intersection_groups(name: str, single_labels: dict[str, pd.Series], present: list[str],
                         hubs: tuple[str, ...]) -> list[str]:
    a, b = name.split("_x_", 1)
    first = fm.ordered_groups(a, list(pd.unique(single_labels[a])), hubs=hubs)
    second = fm.ordered_groups(b, list(pd.unique(single_labels[b])), hubs=hubs)
    shown = set(present)
    return [f"{x} / {z}" for x in first for z in second if f"{x} / {z}" in shown]


def _reference(name: str, groups: list[str], metrics: fm.GroupMetrics, fc: FairnessConfig) -> tuple[str, str]:
    configured = fc.reference_groups.get(name)
    if configured is None:
        return str(metrics.fixed["n"].idxmax()), "largest group"
    if configured not in groups:
        raise UpstreamError(f"fairness.reference_groups.{name}: '{configured}' is not a group in the "
                            f"predictions (groups: {', '.join(groups)})")
    return configured, "configured"


def _specs(frame: pd.DataFrame, fc: FairnessConfig
           ) -> tuple[list[tuple[str, pd.Series, dict[str, tuple[str, str]]]], dict[str, pd.Series]]:
    singles = list(dict.fromkeys(fc.groups))
    pairs = list(fc.intersections)
    used = dict.fromkeys(singles + [x for pair in pairs for x in pair])
    single_labels = {a: fm.attribute_values(frame, a) for a in used}
    specs: list[tuple[str, pd.Series, dict[str, tuple[str, str]]]] = [(a, single_labels[a], {}) for a in singles]
    for a, b in pairs:
        name = fm.intersection_name(a, b)
        joined = (single_labels[a] + " / " + single_labels[b]).rename(name)
        components = dict(zip(joined, zip(single_labels[a], single_labels[b], strict=True), strict=True))
        specs.append((name, joined, components))
    return specs, single_labels


def audited_attributes(rows: AuditRows, fc: FairnessConfig, *, hubs: tuple[str, ...]) -> dict[str, Attribute]:
    """Every configured attribute and intersection, in the configured order, keyed by name.

    Parameters
    ----------
    rows : AuditRows
        The labelled rows, their selections and the bootstrap weights.
    fc : FairnessConfig
        Groups, intersections and reference groups to audit.
    hubs : tuple of str
        The lists' hubs in the order the audit shows them: names, or "code/hub" for a region.

    Returns
    -------
    dict of str to Attribute
    """
    specs, single_labels = _specs(rows.frame, fc)
    attrs: dict[str, Attribute] = {}
    for name, labels, components in specs:
        present = list(pd.unique(labels))
        groups = (_intersection_groups(name, single_labels, present, hubs) if "_x_" in name
                  else fm.ordered_groups(name, present, hubs=hubs))
        codes = pd.Categorical(labels, categories=groups).codes.astype(np.int64)
        metrics = fm.metric_frames(rows.y, rows.probability, rows.selections, labels, groups=groups)
        boot = fm.bootstrap_rates(codes, len(groups), rows.family_codes, rows.weights, rows.y, rows.probability,
                                  rows.selections)
        reference, source = _reference(name, groups, metrics, fc)
        attrs[name] = Attribute(name, labels, groups, codes, metrics, boot, reference, source, components)
    unknown = sorted(set(fc.reference_groups) - set(attrs))
    if unknown:
        raise UpstreamError(f"fairness.reference_groups: {', '.join(unknown)} not an audited group "
                            f"(audited: {', '.join(attrs)})")
    return attrs
