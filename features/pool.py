"""A regional partnership's extract, pooled from its councils' own extracts.

Each council imports and pseudonymises its own records (`upstream import` with the region config writes the
`council` column; its key never leaves it); the partnership then pools the councils' extracts into one
(`upstream pool`). Each council's extract is validated against the region config on its own first, so a broken
rule is named with that council's file; then the pooled tables must not share a council, a child, a family or
an event between two extracts (a pseudonym is keyed per council, so a shared one means the same extract was
given twice or two councils exchanged records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.errors import ContractError, UpstreamError
from features.loaders import Extract
from features.validation import load_extract


@dataclass(frozen=True)
class Pooled:
    """The region's extract, each council's size, and the first as-of date every council's records support."""

    extract: Extract
    councils: dict[str, dict[str, int | str]]  # code -> {"source", "children", "events"}
    earliest_as_of: pd.Timestamp | None


def pool_extracts(directories: Sequence[str | Path], config: Config) -> Pooled:
    """Validate each council's extract against the region `config` and concatenate them.

    Raises
    ------
    UpstreamError
        Not a region config; fewer than two extracts; a council in two extracts; a child, family or event id in
        two extracts.
    ContractError
        An extract breaks the contract (its file, column, rule and rows), e.g. children without the `council`
        column a region needs (`upstream import` with the region config writes it).
    """
    if not config.is_region:
        raise UpstreamError("pool needs a region config (councils: [...]) naming every council's code and hubs")
    dirs = [Path(d) for d in directories]
    if len(dirs) < 2:
        raise UpstreamError("pool needs at least two councils' extracts")
    parts: list[Extract] = []
    owner: dict[str, Path] = {}
    councils: dict[str, dict[str, int | str]] = {}
    for d in dirs:
        if not d.is_dir():
            raise UpstreamError(f"{d}: no such directory")
        try:
            extract = load_extract(d, hubs=config.contract_hubs)
        except ContractError as exc:
            raise ContractError(f"{d} (one council's extract) breaks the contract:\n{exc}") from exc
        codes = extract.children[COUNCIL_COLUMN].astype(str)
        for code, n in codes.value_counts().sort_index().items():
            if code in owner:
                raise UpstreamError(f"council {code} is in two extracts: {owner[code]} and {d}")
            owner[code] = d
            fams = extract.children.loc[codes.to_numpy() == code, "family_id"]
            councils[str(code)] = {"source": str(d), "children": int(n),
                                   "events": int(extract.events["family_id"].isin(fams).sum())}
        parts.append(extract)
    for table, key in (("children", "child_id"), ("children", "family_id"), ("events", "event_id")):
        _refuse_shared(dirs, [getattr(p, table)[key] for p in parts], f"{table}.{key}")
    children = pd.concat([p.children for p in parts], ignore_index=True)
    events = pd.concat([p.events for p in parts], ignore_index=True)
    # every council's records must support a date before it is used: the latest of the councils' own first dates
    starts = [p.earliest_as_of for p in parts if p.earliest_as_of is not None]
    return Pooled(extract=Extract(children=children, events=events), councils=dict(sorted(councils.items())),
                  earliest_as_of=max(starts) if starts else None)


def _refuse_shared(dirs: list[Path], columns: list[pd.Series], name: str) -> None:
    """Refuse an id held by two extracts (counted, never printed: ids are pseudonyms of children)."""
    seen: dict[str, int] = {}
    for i, col in enumerate(columns):
        for value in pd.unique(col.dropna().astype(str)):
            j = seen.setdefault(value, i)
            if j != i:
                shared = len(set(columns[j].dropna().astype(str)) & set(col.dropna().astype(str)))
                raise UpstreamError(f"{name}: {shared:,} id(s) in both {dirs[j]} and {dirs[i]}: each council's "
                                    "extract must hold only its own records (was one extract given twice?)")
