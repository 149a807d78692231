"""The audit's table of counts: every published count as a named cell, the additive relations between them, and
the cells that must be hidden whatever their count (too few distinct children). Suppression works on this table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from features.columns import AGE_BANDS
from governance import _metrics as fm
from governance._attributes import Attribute, AuditRows
from governance._suppression import Relation

# The whole population, as an (attribute, group) pair.
OVERALL = ("*", "all")
AGE = "age_coverage"
EARLY_HELP = "early_help"
UNDER_5, FIVE_PLUS = "under 5", "5 and over"
UNDER_5_BAND = AGE_BANDS[0]  # "0-4"
# The operating point of a count that does not depend on one (n, n_positive, n_negative, early help episodes).
# The empty name sorts before every operating point, which keeps suppression's tie-break order (by repr).
ANY_POINT = ""


class Cell(NamedTuple):
    """One count: `count` among the rows of `attribute` = `group`, at operating point `point`."""

    attribute: str
    group: str
    point: str
    count: str


def cell(attribute: str, group: str, point: str, count: str) -> Cell:
    """The cell of a count; counts that do not depend on the operating point are stored once, at ANY_POINT."""
    return Cell(attribute, group, ANY_POINT if count in fm.FIXED_COUNTS else point, count)


@dataclass(frozen=True)
class EarlyHelpCounts:
    """Early help episodes starting in the test period, by the child's age at the start, and where from."""

    under_5: int
    five_plus: int
    source: str
    share: float | None = None  # a logged share when only that is known (no counts)


@dataclass
class CountTable:
    """Counts by cell, the relations among them, and cells hidden whatever their count."""

    values: dict[Cell, float] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    primary: set[Cell] = field(default_factory=set)

    def relate(self, total: Cell, parts: Iterable[Cell]) -> None:
        self.relations.append(Relation(total, tuple(parts)))


# (point-independent total, its parts), then (per-point total, its parts): n = selected + unselected, and so on.
_SPLITS = (("n", ("n_selected", "n_unselected")), ("n_positive", ("tp", "fn")), ("n_negative", ("fp", "tn")),
           ("n_selected", ("tp", "fp")), ("n_unselected", ("fn", "tn")))


def _group_cells(table: CountTable, attribute: str, group: str, fixed: pd.Series, at: dict[str, pd.Series]) -> None:
    """A group's counts, and how they add up (n = positives + negatives; each split per operating point)."""
    for count in fm.FIXED_COUNTS:
        table.values[Cell(attribute, group, ANY_POINT, count)] = float(fixed[count])
    table.relate(Cell(attribute, group, ANY_POINT, "n"),
                 (Cell(attribute, group, ANY_POINT, "n_positive"), Cell(attribute, group, ANY_POINT, "n_negative")))
    for point, values in at.items():
        for count in fm.OP_COUNTS:
            table.values[Cell(attribute, group, point, count)] = float(values[count])
        for total, parts in _SPLITS:
            table.relate(cell(attribute, group, point, total), (cell(attribute, group, point, p) for p in parts))


def count_masks(rows: AuditRows) -> dict[tuple[str, str], np.ndarray]:
    """(operating point, count) -> the rows it counts, for every count of the table."""
    y = rows.y
    masks = {(ANY_POINT, "n"): np.ones(len(y), bool), (ANY_POINT, "n_positive"): y == 1,
             (ANY_POINT, "n_negative"): y == 0}
    for point, sel in rows.selections.items():
        masks.update({(point, "n_selected"): sel, (point, "n_unselected"): ~sel, (point, "tp"): sel & (y == 1),
                      (point, "fp"): sel & (y == 0), (point, "fn"): ~sel & (y == 1), (point, "tn"): ~sel & (y == 0)})
    return masks


def _attribute_cells(table: CountTable, attr: Attribute, rows: AuditRows,
                     masks: dict[tuple[str, str], np.ndarray], threshold: int) -> None:
    """An attribute's groups add up to the whole population; groups with few distinct children are hidden."""
    points = list(rows.selections)
    for g in attr.groups:
        _group_cells(table, attr.name, g, attr.metrics.fixed.loc[g], {p: attr.metrics.at[p].loc[g] for p in points})
    for (point, count), mask in masks.items():
        counts = np.array([table.values[Cell(attr.name, g, point, count)] for g in attr.groups])
        table.relate(Cell(*OVERALL, point, count), (Cell(attr.name, g, point, count) for g in attr.groups))
        # Row counts can hide few children (one child repeats across as-of dates): count them where it matters.
        if np.any((counts >= threshold) & (counts < threshold * rows.max_rows_per_child)):
            kids = fm.distinct_children(attr.codes, len(attr.groups), rows.child_codes, mask)
            table.primary |= {Cell(attr.name, g, point, count) for g, k in zip(attr.groups, kids, strict=True)
                              if k < threshold}


def _margin_relations(table: CountTable, attr: Attribute, masks: Iterable[tuple[str, str]]) -> None:
    """An intersection's groups add up to each of its margins (e.g. sex / disability to sex)."""
    a, b = attr.name.split("_x_", 1)
    for side, margin in ((0, a), (1, b)):
        members: dict[str, list[str]] = {}
        for g in attr.groups:
            members.setdefault(attr.components[g][side], []).append(g)
        for value, groups in members.items():
            for point, count in masks:
                if Cell(margin, value, point, count) in table.values:
                    table.relate(Cell(margin, value, point, count),
                                 (Cell(attr.name, g, point, count) for g in groups))


def _ethnicity_relations(table: CountTable, ethnicity: Attribute, ethnic_group: Attribute,
                         masks: Iterable[tuple[str, str]]) -> None:
    """DfE ethnicity codes add up to their broad ethnic group (where each code sits in one group)."""
    nest = pd.crosstab(ethnicity.labels, ethnic_group.labels)
    for group in ethnic_group.groups:
        codes_in = [c for c in nest.index if nest.loc[c, group] > 0]
        if all((nest.loc[c] > 0).sum() == 1 for c in codes_in):
            for point, count in masks:
                table.relate(Cell("ethnic_group", group, point, count),
                             (Cell("ethnicity", c, point, count) for c in codes_in))


def _age_coverage_cells(table: CountTable, rows: AuditRows, attrs: dict[str, Attribute], threshold: int
                        ) -> list[tuple[str, str]]:
    """Flagged rows (per operating point) and entrants, split under 5 / 5 and over; returns the (point, count)
    pairs covered, or none when the rows have no age band."""
    if "age_band" not in rows.frame:
        return []
    age_labels = fm.attribute_values(rows.frame, "age_band")
    under = (age_labels == UNDER_5_BAND).to_numpy()
    five = ~under & (age_labels != fm.NOT_RECORDED).to_numpy()
    covered = [*((p, "n_selected", sel) for p, sel in rows.selections.items()), (ANY_POINT, "n_positive", rows.y == 1)]
    keys = []
    for point, count, mask in covered:
        keys.append((point, count))
        for label, part in ((UNDER_5, under), (FIVE_PLUS, five)):
            table.values[Cell(AGE, label, point, count)] = float((mask & part).sum())
            if len(np.unique(rows.child_codes[mask & part])) < threshold:
                table.primary.add(Cell(AGE, label, point, count))
        parts = [Cell(AGE, UNDER_5, point, count), Cell(AGE, FIVE_PLUS, point, count)]
        not_recorded = mask & ~under & ~five
        if not_recorded.any():
            table.values[Cell(AGE, fm.NOT_RECORDED, point, count)] = float(not_recorded.sum())
            parts.append(Cell(AGE, fm.NOT_RECORDED, point, count))
        table.relate(Cell(*OVERALL, point, count), parts)
        if "age_band" in attrs:
            bands = attrs["age_band"].groups
            table.relate(Cell(AGE, UNDER_5, point, count),
                         (Cell("age_band", g, point, count) for g in bands if g == UNDER_5_BAND))
            table.relate(Cell(AGE, FIVE_PLUS, point, count),
                         (Cell("age_band", g, point, count) for g in bands if g not in (UNDER_5_BAND, fm.NOT_RECORDED)))
    return keys


def early_help_cell(group: str) -> Cell:
    """The count of early help episodes: `group` is 'all', UNDER_5 or FIVE_PLUS."""
    return Cell(EARLY_HELP, group, ANY_POINT, "episodes")


def _early_help_cells(table: CountTable, early_help: EarlyHelpCounts) -> None:
    table.values[early_help_cell("all")] = float(early_help.under_5 + early_help.five_plus)
    table.values[early_help_cell(UNDER_5)] = float(early_help.under_5)
    table.values[early_help_cell(FIVE_PLUS)] = float(early_help.five_plus)
    table.relate(early_help_cell("all"), (early_help_cell(UNDER_5), early_help_cell(FIVE_PLUS)))


def count_table(rows: AuditRows, attrs: dict[str, Attribute], *, threshold: int,
                early_help: EarlyHelpCounts | None = None) -> tuple[CountTable, list[tuple[str, str]]]:
    """Every count the audit publishes, with the relations suppression must respect.

    Parameters
    ----------
    rows : AuditRows
        The labelled rows and their selections.
    attrs : dict of str to Attribute
        The audited attributes, in order (their point metrics hold the counts).
    threshold : int
        The small-cell threshold (a count of distinct children under it is hidden).
    early_help : EarlyHelpCounts, optional
        Early help episodes by age, when counts are known.

    Returns
    -------
    CountTable
        Values, relations and the cells hidden whatever their count.
    list of (str, str)
        The (operating point, count) pairs of the age coverage cells (empty without an age band).
    """
    table = CountTable()
    first = next(iter(attrs.values()))
    _group_cells(table, *OVERALL, first.metrics.overall_fixed, first.metrics.overall_at)
    masks = count_masks(rows)
    for attr in attrs.values():
        _attribute_cells(table, attr, rows, masks, threshold)
    overall_kids = {key: len(np.unique(rows.child_codes[m])) for key, m in masks.items()}
    table.primary |= {Cell(*OVERALL, point, count) for (point, count), k in overall_kids.items() if k < threshold}
    for attr in attrs.values():
        if attr.is_intersection:
            _margin_relations(table, attr, masks)
    if "ethnicity" in attrs and "ethnic_group" in attrs:
        _ethnicity_relations(table, attrs["ethnicity"], attrs["ethnic_group"], masks)
    age_keys = _age_coverage_cells(table, rows, attrs, threshold)
    if early_help is not None and early_help.share is None:
        _early_help_cells(table, early_help)
    return table, age_keys
