"""Small-cell suppression: hide counts under a threshold, and enough others that none can be recovered by difference.

A table of counts is described by its cells (any hashable key -> count) and the additive relations between
them (`total = part_1 + ... + part_k`: a row of a breakdown and its groups, a group and its sub-groups, a count
and its complementary counts such as n = positives + negatives). Suppression then runs in two steps:

1. primary: every cell whose count (or whose count of distinct children) is under the threshold;
2. complementary: while some relation holds exactly one suppressed cell, or linear algebra over all the
   relations still pins down a suppressed cell exactly, suppress one more cell (the smallest available), so
   that no suppressed count can be worked out from the published ones.

What it does not do: interval (bounds) auditing. An attacker still learns a suppressed count lies between
0 and a published total; that is accepted practice for tables of this kind.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.linalg import null_space

Cell = Hashable
# Both primary and complementary suppressions carry the same public reason, so that readers cannot tell
# which hidden cells are the small ones (that would leak bounds).
SUPPRESSED_COUNT = "suppressed: fewer than {threshold}, or would let a small count be worked out by difference"
DERIVED = "suppressed: computed from a suppressed count ({inputs})"


@dataclass(frozen=True)
class Relation:
    """`total` equals the sum of `parts`."""

    total: Cell
    parts: tuple[Cell, ...]

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class Suppression:
    """The outcome: which cells are hidden, and why (primary cells are kept private to the caller)."""

    suppressed: frozenset[Cell]
    primary: frozenset[Cell]
    threshold: int

    def reason(self, cell: Cell) -> str | None:
        return SUPPRESSED_COUNT.format(threshold=self.threshold) if cell in self.suppressed else None


def recoverable(values: Mapping[Cell, float], relations: Iterable[Relation], suppressed: Iterable[Cell]
                ) -> set[Cell]:
    """Suppressed cells whose value is pinned down exactly by the relations and the published cells."""
    hidden = sorted(set(suppressed), key=repr)
    if not hidden:
        return set()
    index = {c: i for i, c in enumerate(hidden)}
    rows = []
    for rel in relations:
        coeffs = np.zeros(len(hidden))
        touched = False
        for cell, sign in ((rel.total, 1.0), *((p, -1.0) for p in rel.parts)):
            if cell in index:
                coeffs[index[cell]] += sign
                touched = True
        if touched and np.any(coeffs):
            rows.append(coeffs)
    if not rows:
        return set()
    # A hidden cell is determined iff it is constant over the solution set: zero in every null-space vector.
    basis = null_space(np.vstack(rows))
    if basis.size == 0:
        return set(hidden)
    free = np.linalg.norm(basis, axis=1) > 1e-9
    return {c for c in hidden if not free[index[c]]}


def suppress(values: Mapping[Cell, float], relations: Iterable[Relation], *, threshold: int,
             primary: Iterable[Cell] = ()) -> Suppression:
    """Primary suppression of counts under `threshold` (plus any `primary` cells the caller adds, e.g. those
    with few distinct children), then complementary suppression until nothing hidden can be recovered.

    Parameters
    ----------
    values : mapping of cell to float
        Every count of the table.
    relations : iterable of Relation
        How the counts add up (relations naming an unknown cell are ignored).
    threshold : int
        Counts under it are hidden.
    primary : iterable of cell
        Further cells to hide whatever their count.

    Returns
    -------
    Suppression
        The hidden cells (and, privately, the primary ones).
    """
    relations = [r for r in relations if all(c in values for c in r.cells)]
    first = {c for c, v in values.items() if v < threshold} | (set(primary) & set(values))
    hidden = set(first)
    by_cell: dict[Cell, list[Relation]] = {}
    for rel in relations:
        for cell in rel.cells:
            by_cell.setdefault(cell, []).append(rel)

    def cheapest(candidates: Iterable[Cell]) -> Cell | None:
        open_ = [c for c in candidates if c not in hidden]
        return min(open_, key=lambda c: (values[c], repr(c))) if open_ else None

    while True:
        changed = False
        # Step 1: no relation may hold exactly one hidden cell (it would equal total minus the rest).
        for rel in relations:
            if sum(c in hidden for c in rel.cells) == 1:
                pick = cheapest(rel.parts) or cheapest((rel.total,))
                if pick is not None:
                    hidden.add(pick)
                    changed = True
        if changed:
            continue
        # Step 2: several relations together can still pin a cell down; hide one more next to each such cell.
        for cell in sorted(recoverable(values, relations, hidden), key=repr):
            neighbours = [c for rel in by_cell.get(cell, []) for c in rel.cells]
            pick = cheapest(neighbours)
            if pick is not None:
                hidden.add(pick)
                changed = True
        if not changed:
            return Suppression(suppressed=frozenset(hidden), primary=frozenset(first), threshold=threshold)
