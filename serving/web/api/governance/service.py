"""Governance aggregates: decision counts by hub, band and previous contact, suppressed with training's rules.

Counts use each family's latest decision per list date (a practitioner may revise one). Suppression is the
fairness audit's own (`governance.suppress`): counts under the threshold are hidden, then enough others that
none can be worked out from row and column totals. Ethnicity is not in the scoring output (by design), so
decisions are not broken down by protected characteristics here; the fairness audit covers those.
"""

from __future__ import annotations

from collections.abc import Iterable

from governance import Relation, suppress
from serving.web.api.governance.schemas import DecisionCell, DecisionTables, GovernanceSummary
from serving.web.data import DECISIONS, DecisionRecord
from serving.web.model_host import Champion

AUDIT_KEYS = ("schema", "generated_at", "verdict", "reasons", "other_flags", "verdict_rule", "settings",
              "population", "operating_points", "overall", "tables", "age_coverage", "suppression", "model")
RULE = ("counts under {t} are hidden, and further counts so that none can be worked out by difference; "
        "rates computed from a hidden count are hidden")
ALL = "all"


def latest_decisions(records: Iterable[DecisionRecord]) -> list[DecisionRecord]:
    latest: dict[tuple[str, str | None], DecisionRecord] = {}
    for r in records:  # records arrive in insertion order: later ones win
        latest[(r.family_id, r.as_of)] = r
    return list(latest.values())


def _dimension(records: list[DecisionRecord], key: str) -> dict[str, list[DecisionRecord]]:
    out: dict[str, list[DecisionRecord]] = {}
    for r in records:
        value = getattr(r, key)
        label = ("yes" if value else "no") if key == "previously_known" and value is not None else str(value)
        out.setdefault(label, []).append(r)
    return out


def decision_tables(records: list[DecisionRecord], *, threshold: int, hubs: tuple[str, ...]) -> DecisionTables:
    dims = {"hub": _dimension(records, "hub"), "band": _dimension(records, "band"),
            "previously_known": _dimension(records, "previously_known")}
    for hub in hubs:  # every hub appears, even with no decisions yet
        dims["hub"].setdefault(hub, [])
    values: dict[tuple, int] = {}
    relations: list[Relation] = []
    for kind in (*DECISIONS, "n"):
        values[(ALL, ALL, kind)] = sum(1 for r in records if kind == "n" or r.decision == kind)
    relations.append(Relation((ALL, ALL, "n"), tuple((ALL, ALL, k) for k in DECISIONS)))
    for dim, groups in dims.items():
        for group, rows in groups.items():
            for kind in DECISIONS:
                values[(dim, group, kind)] = sum(1 for r in rows if r.decision == kind)
            values[(dim, group, "n")] = len(rows)
            relations.append(Relation((dim, group, "n"), tuple((dim, group, k) for k in DECISIONS)))
        for kind in (*DECISIONS, "n"):
            relations.append(Relation((ALL, ALL, kind), tuple((dim, g, kind) for g in groups)))
    hidden = suppress(values, relations, threshold=threshold).suppressed

    def cell(dim: str, group: str) -> DecisionCell:
        shown = {k: None if (dim, group, k) in hidden else values[(dim, group, k)] for k in (*DECISIONS, "n")}
        rate = None
        if shown["n"] and shown["disagree"] is not None:
            rate = round(shown["disagree"] / shown["n"], 4)
        return DecisionCell(group=group, decisions=shown["n"], offered_early_help=shown["offered_early_help"],
                            not_needed=shown["not_needed"], already_open=shown["already_open"],
                            disagree=shown["disagree"], disagreement_rate=rate,
                            suppressed=[k if k != "n" else "decisions" for k in (*DECISIONS, "n")
                                        if (dim, group, k) in hidden])

    return DecisionTables(by_hub=[cell("hub", g) for g in sorted(dims["hub"])],
                          by_band=[cell("band", g) for g in sorted(dims["band"])],
                          by_previously_known=[cell("previously_known", g) for g in sorted(dims["previously_known"])],
                          overall=cell(ALL, ALL))


def audit_summary(champion: Champion | None) -> dict | None:
    if champion is None or not isinstance(champion.audit, dict):
        return None
    return {k: champion.audit[k] for k in AUDIT_KEYS if k in champion.audit}


def summary(records: list[DecisionRecord], champion: Champion | None, *, threshold: int, hubs: tuple[str, ...],
            monitoring: dict | None = None) -> GovernanceSummary:
    verdict = "not audited"
    if champion is not None:
        verdict = str(champion.model.tags.get("fairness_verdict") or (champion.audit or {}).get("verdict") or verdict)
    return GovernanceSummary(model_version=champion.version if champion else None, fairness_verdict=verdict,
                             audit=audit_summary(champion), small_cell_threshold=threshold,
                             suppression_rule=RULE.format(t=threshold),
                             decisions=decision_tables(latest_decisions(records), threshold=threshold, hubs=hubs),
                             monitoring=monitoring)
