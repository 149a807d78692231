"""The latest scoring output directory (`upstream score --out DIR`), read-only, re-read when a new one is swapped in.

`upstream score` replaces the whole directory atomically, so the service watches `manifest.json` (its inode
and mtime change with every swap) at most once a second and loads the new lists in one go.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

CHECK_EVERY_SECONDS = 1.0


def _json(value: object, default: Any) -> Any:
    """A JSON column cell (string or already-decoded) as Python, `default` when null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return default
    return value


def _opt_float(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


@dataclass(frozen=True)
class Family:
    family_id: str
    hub: str
    family_risk: float
    band: str
    rank_in_hub: int | None
    listed: bool
    previously_known: bool
    children: list[dict]
    reasons: list[str]
    protective: str | None
    changes: dict | None


@dataclass(frozen=True)
class Scores:
    """One loaded scoring output."""

    directory: Path
    manifest: dict
    families: dict[str, Family]
    by_hub: dict[str, list[Family]]  # listed families of each hub, in rank order
    explanations: pd.DataFrame  # child_id, feature, value, shap (children of listed families)
    children: pd.DataFrame  # scores.parquet indexed by child_id
    stamp: tuple[int, int] = (0, 0)
    groups: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def as_of(self) -> str | None:
        v = self.manifest.get("as_of")
        return str(v)[:10] if v else None

    @property
    def model_version(self) -> str | None:
        model = self.manifest.get("model")
        v = model.get("version") if isinstance(model, dict) else self.manifest.get("model_version")
        return None if v is None else str(v)

    def chart_path(self, family: Family) -> Path | None:
        from serving.lists import hub_slug

        for folder in dict.fromkeys((hub_slug(family.hub), family.hub)):
            path = self.directory / "lists" / folder / f"{family.family_id}.png"
            # the family id comes from our own table, but never let a path escape the scores directory
            if path.is_file() and path.resolve().is_relative_to(self.directory.resolve()):
                return path
        return None

    def child_explanations(self, child_id: str) -> pd.DataFrame:
        if self.explanations.empty:
            return self.explanations
        return self.explanations[self.explanations["child_id"] == child_id]


def _family(row: dict) -> Family:
    rank = row.get("rank_in_hub")
    return Family(
        family_id=str(row["family_id"]), hub=str(row["hub"]), family_risk=float(row["family_risk"]),
        band=str(row.get("band") or ""), rank_in_hub=None if rank is None or pd.isna(rank) else int(rank),
        listed=bool(row.get("listed", False)), previously_known=bool(row.get("previously_known", False)),
        children=list(_json(row.get("children"), [])), reasons=[str(r) for r in _json(row.get("reasons"), [])],
        protective=None if row.get("protective") is None or pd.isna(row.get("protective"))
        else str(row["protective"]),
        changes=_json(row.get("changes"), None))


def load_scores(directory: str | Path) -> Scores:
    """Read a scoring output directory; raises FileNotFoundError / ValueError if it is not one."""
    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    st = manifest_path.stat()
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    fam = pd.read_parquet(directory / "families.parquet")
    families = {str(r["family_id"]): _family(r) for r in fam.to_dict("records")}
    by_hub: dict[str, list[Family]] = {}
    for f in sorted(families.values(), key=lambda f: (f.rank_in_hub is None, f.rank_in_hub or 0, -f.family_risk)):
        if f.listed:
            by_hub.setdefault(f.hub, []).append(f)
    expl_path = directory / "explanations.parquet"
    expl = pd.read_parquet(expl_path) if expl_path.is_file() else pd.DataFrame(
        columns=["child_id", "feature", "value", "shap"])
    scores_path = directory / "scores.parquet"
    children = pd.read_parquet(scores_path) if scores_path.is_file() else pd.DataFrame(columns=["child_id"])
    children = children.assign(child_id=children["child_id"].astype(str)).set_index("child_id", drop=False)
    return Scores(directory=directory, manifest=manifest, families=families, by_hub=by_hub, explanations=expl,
                  children=children, stamp=(st.st_ino, st.st_mtime_ns))


class ScoresRepository:
    """The current scores, swapped whole when the directory changes; `error` says why there are none."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._scores: Scores | None = None
        self.error: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < CHECK_EVERY_SECONDS:
            return
        with self._lock:
            self._checked = now
            try:
                st = (self.directory / "manifest.json").stat()
            except OSError:
                self.error = f"no scoring output at {self.directory} (run `upstream score --out {self.directory}`)"
                return
            if self._scores is not None and self._scores.stamp == (st.st_ino, st.st_mtime_ns):
                return
            try:
                self._scores = load_scores(self.directory)
                self.error = None
            except Exception as exc:  # a half-written or foreign directory: keep the last good lists
                self.error = f"cannot read scoring output {self.directory}: {type(exc).__name__}: {exc}"

    @property
    def scores(self) -> Scores | None:
        self.refresh()
        return self._scores


def explanation_rows(scores: Scores, child_id: str, *, top: int = 8) -> list[dict]:
    """A child's largest contributions (by |SHAP|), each with the feature's value said in words."""
    from features.dictionary import describe

    rows = scores.child_explanations(child_id)
    if rows.empty:
        return []
    rows = rows.reindex(rows["shap"].abs().sort_values(ascending=False).index).head(top)
    out = []
    for r in rows.itertuples(index=False):
        try:
            text = describe(str(r.feature), r.value)
        except (KeyError, ValueError, TypeError):
            text = str(r.feature)
        out.append({"feature": str(r.feature), "value": _opt_float(r.value), "shap": float(r.shap), "text": text})
    return out


def child_summary(scores: Scores, child: dict) -> dict:
    """A child of a family as listed (age, probability) plus margin and base value where scores hold them."""
    cid = str(child.get("child_id"))
    out = {"child_id": cid, "age_years": _opt_float(child.get("age_years")),
           "probability": _opt_float(child.get("probability"))}
    if cid in scores.children.index:
        row = scores.children.loc[cid]
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        out["margin"] = _opt_float(row.get("margin"))
        out["base_value"] = _opt_float(row.get("base_value"))
    return out
