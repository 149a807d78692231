"""Risk lists for hub leads: rank families per hub, choose who is listed, say what changed, write CSV and HTML.

A hub lists its top `capacity` families (config `council.hubs[].capacity`: families it can take on in a
period) plus any family above `serving.list_probability_threshold`, however many that is: a very high risk
is never hidden by a full list. Ranks are by family risk, ties broken by family_id so lists are reproducible.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.errors import UpstreamError
from core.notice import DECISION_SUPPORT
from serving.family import family_risks

# A family's risk must move by at least this much (absolute) to be called "up" or "down".
RISK_CHANGE_MIN = 0.01

FAMILY_COLUMNS = ("family_id", "hub", "family_risk", "band", "rank_in_hub", "listed", "previously_known",
                  "children", "reasons", "protective", "changes")


def hub_slug(hub: str) -> str:
    """A file-name-safe form of a hub name ("North Field" -> "North_Field")."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", hub).strip("._") or "hub"


def rank_families(scores: pd.DataFrame, config: Config) -> pd.DataFrame:
    """One row per family: hub, family risk, band, rank within the hub, listed, previously known, children.

    `scores` needs child_id, family_id, hub, age_years, previously_known, probability. A family's hub is its
    children's (the most common, if they differ)."""
    risk = family_risks(scores["family_id"], scores["probability"])
    ordered = scores.sort_values(["family_id", "probability", "child_id"], ascending=[True, False, True])
    # the most common hub among the children; ties go to the hub of the highest-risk child
    counts = ordered.groupby(["family_id", "hub"], sort=False).size().rename("n").reset_index()
    hub = counts.sort_values(["family_id", "n"], ascending=[True, False], kind="stable").drop_duplicates(
        "family_id").set_index("family_id")["hub"]
    known = ordered.groupby("family_id", sort=True)["previously_known"].any()
    fids = ordered["family_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, fids[1:] != fids[:-1]])
    ends = np.r_[starts[1:], len(fids)]
    cid, age, prob = (ordered["child_id"].astype(str).to_numpy(), ordered["age_years"].to_numpy(),
                      ordered["probability"].to_numpy(dtype=float))
    children = {
        fids[a]: json.dumps([{"child_id": cid[i], "age_years": None if pd.isna(age[i]) else int(age[i]),
                              "probability": round(float(prob[i]), 4)} for i in range(a, b)])
        for a, b in zip(starts, ends, strict=True)
    }
    fam = pd.DataFrame({"family_id": risk.index.astype(object), "hub": hub.reindex(risk.index).to_numpy(),
                        "family_risk": risk.to_numpy(), "previously_known": known.reindex(risk.index).to_numpy()})
    fam["band"] = [config.serving.band_for(p) for p in fam["family_risk"]]
    fam = fam.sort_values(["hub", "family_risk", "family_id"], ascending=[True, False, True], kind="stable")
    fam["rank_in_hub"] = fam.groupby("hub", sort=False).cumcount() + 1
    capacity = fam["hub"].map({h.name: h.capacity for h in config.council.hubs}).fillna(0).astype(int)
    fam["listed"] = (fam["rank_in_hub"] <= capacity) | (fam["family_risk"] >= config.serving.list_probability_threshold)
    fam["children"] = fam["family_id"].map(children)
    fam["reasons"] = "[]"
    fam["protective"] = None
    fam["changes"] = None
    return fam.reset_index(drop=True)


def read_previous(directory: str | Path) -> pd.DataFrame:
    """The families table of an earlier `upstream score` output, for "what changed"."""
    path = Path(directory) / "families.parquet"
    if not path.is_file():
        raise UpstreamError(f"--previous {directory}: no families.parquet there; give a directory written by "
                            "`upstream score`")
    prev = pd.read_parquet(path)
    missing = [c for c in ("family_id", "family_risk", "listed", "reasons") if c not in prev.columns]
    if missing:
        raise UpstreamError(f"--previous {directory}: families.parquet lacks column(s) {', '.join(missing)}")
    return prev


def _groups(row: pd.Series | None) -> set[str]:
    """The signals behind a family's reasons (the reason texts if the signals were not recorded)."""
    if row is None:
        return set()
    raw = row.get("reason_groups")
    if isinstance(raw, str):
        return set(json.loads(raw))
    return set(json.loads(row["reasons"] or "[]"))


def what_changed(families: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    """For each listed family, a dict: new_to_list, risk_change (None if not scored before), direction,
    previous_rank, new_reasons (reasons whose signal was not among the family's reasons before). Unlisted
    families and runs without a previous list get None."""
    out = pd.Series([None] * len(families), index=families.index, dtype=object)
    if previous is None:
        return out
    prev = previous.drop_duplicates("family_id").set_index("family_id")
    for idx, row in families[families["listed"]].iterrows():
        before = prev.loc[row["family_id"]] if row["family_id"] in prev.index else None
        reasons = json.loads(row["reasons"] or "[]")
        groups = json.loads(row["reason_groups"]) if isinstance(row.get("reason_groups"), str) else reasons
        old = _groups(before)
        new_reasons = [text for text, g in zip(reasons, groups, strict=False) if g not in old]
        change: float | None = None
        direction = "new"
        if before is not None:
            change = float(row["family_risk"]) - float(before["family_risk"])
            direction = "up" if change >= RISK_CHANGE_MIN else "down" if change <= -RISK_CHANGE_MIN else "same"
        prev_rank = before.get("rank_in_hub") if before is not None else None
        out.at[idx] = {
            "new_to_list": before is None or not bool(before["listed"]),
            "risk_change": None if change is None else round(change, 4),
            "direction": direction,
            "previous_rank": None if prev_rank is None or pd.isna(prev_rank) else int(prev_rank),
            "new_reasons": new_reasons if before is not None else [],
        }
    return out


def left_the_list(families: pd.DataFrame, previous: pd.DataFrame | None, hub: str) -> list[dict[str, Any]]:
    """Families listed in the previous run for this hub that are not listed now (and why, in short)."""
    if previous is None or "hub" not in previous.columns:
        return []
    was = previous[(previous["hub"] == hub) & previous["listed"].astype(bool)]
    now = families.set_index("family_id")
    out = []
    for fid in sorted(was["family_id"]):
        if fid in now.index and bool(now.at[fid, "listed"]):
            continue
        status = (f"risk now {percent(now.at[fid, 'family_risk'])}" if fid in now.index
                  else "no longer in the cohort (moved away, turned 18 or looked after)")
        out.append({"family_id": fid, "status": status})
    return out


def percent(p: float) -> str:
    """A probability as a percentage a reader can take in ("34%", "<1%")."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    if 0 < p < 0.005:
        return "<1%"
    return f"{100 * p:.0f}%"


def change_text(changes: dict[str, Any] | None, family_risk: float) -> str:
    """"new to the list", "risk up from 12% to 18%", "new reason: …" — what changed, in one line."""
    if not changes:
        return ""
    parts = []
    if changes.get("new_to_list"):
        parts.append("new to the list")
    delta = changes.get("risk_change")
    if delta is not None and changes.get("direction") in ("up", "down"):
        parts.append(f"risk {changes['direction']} from {percent(family_risk - delta)} to {percent(family_risk)}")
    elif delta is not None:
        parts.append("risk about the same")
    new = changes.get("new_reasons") or []
    if new:
        parts.append(("new reason: " if len(new) == 1 else "new reasons: ") + "; ".join(new))
    return "; ".join(parts)


def children_text(children_json: str) -> str:
    kids = json.loads(children_json)
    return "; ".join(f"{c['child_id']} aged {c['age_years']}: {percent(c['probability'])}" for c in kids)


def hub_list(families: pd.DataFrame, hub: str) -> pd.DataFrame:
    """The listed families of one hub in rank order, as the CSV a hub lead opens (no ethnicity, ever)."""
    rows = families[(families["hub"] == hub) & families["listed"]].sort_values("rank_in_hub")
    out = []
    for _, r in rows.iterrows():
        reasons = json.loads(r["reasons"] or "[]")
        changes = r["changes"] if isinstance(r["changes"], dict) else (json.loads(r["changes"]) if isinstance(
            r["changes"], str) else None)
        out.append({
            "rank": int(r["rank_in_hub"]),
            "family_id": r["family_id"],
            "risk_percent": round(100 * float(r["family_risk"]), 1),
            "band": r["band"],
            "known_to_social_care": "yes" if r["previously_known"] else "no",
            "children": children_text(r["children"]),
            **{f"reason_{k + 1}": reasons[k] if k < len(reasons) else "" for k in range(3)},
            "protective": r["protective"] or "",
            "what_changed": change_text(changes, float(r["family_risk"])),
        })
    columns = ["rank", "family_id", "risk_percent", "band", "known_to_social_care", "children", "reason_1",
               "reason_2", "reason_3", "protective", "what_changed"]
    return pd.DataFrame(out, columns=columns)


def list_context(families: pd.DataFrame, hub: str, *, config: Config, as_of: pd.Timestamp,
                 chart_dir: str | None, previous: pd.DataFrame | None, model_label: str) -> dict[str, Any]:
    """Everything the hub list template shows."""
    rows = families[(families["hub"] == hub) & families["listed"]].sort_values("rank_in_hub")
    entries = []
    for _, r in rows.iterrows():
        changes = r["changes"] if isinstance(r["changes"], dict) else None
        entries.append({
            "rank": int(r["rank_in_hub"]), "family_id": r["family_id"], "risk": percent(r["family_risk"]),
            "band": r["band"], "band_class": hub_slug(str(r["band"])).lower(),
            "known": bool(r["previously_known"]),
            "children": [{"child_id": c["child_id"], "age": c["age_years"], "risk": percent(c["probability"])}
                         for c in json.loads(r["children"])],
            "reasons": json.loads(r["reasons"] or "[]"), "protective": r["protective"],
            "changed": change_text(changes, float(r["family_risk"])) if changes else None,
            "chart": f"{chart_dir}/{r['family_id']}.png" if chart_dir else None,
        })
    n_families = int((families["hub"] == hub).sum())
    return {
        "hub": hub, "as_of": f"{as_of:%d %B %Y}", "entries": entries, "notice": DECISION_SUPPORT,
        "capacity": config.council.capacity(hub) if hub in config.council.hub_names else None,
        "threshold": percent(config.serving.list_probability_threshold), "n_families": n_families,
        "horizon": config.outcome.horizon_months,
        "bands": [(b.name, percent(b.min)) for b in config.serving.risk_bands],
        "left": left_the_list(families, previous, hub), "has_previous": previous is not None, "model": model_label,
    }


def family_record(families: pd.DataFrame) -> pd.DataFrame:
    """families.parquet as agreed in docs/interfaces.md (JSON strings for the nested columns), plus
    reason_features / reason_groups so the next run can tell which reasons are new."""
    out = families.copy()
    out["changes"] = [json.dumps(c) if isinstance(c, dict) else None for c in out["changes"]]
    out["rank_in_hub"] = out["rank_in_hub"].astype("int64")
    out["listed"] = out["listed"].astype(bool)
    out["previously_known"] = out["previously_known"].astype(bool)
    extra = [c for c in ("reason_features", "reason_groups") if c in out.columns]
    return out[[*FAMILY_COLUMNS, *extra]].sort_values(["hub", "rank_in_hub"]).reset_index(drop=True)
