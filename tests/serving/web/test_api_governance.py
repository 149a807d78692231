"""Governance aggregates: decision and disagreement rates with small cells suppressed, no identifiable rows."""

from __future__ import annotations

import json
from typing import Any

from serving.web.api.governance.service import decision_tables, latest_decisions
from serving.web.auth import Principal
from serving.web.data import DecisionRecord

Web = Any  # the `web` fixture (conftest.Web)


def _rec(i: int, hub: str, decision: str, *, as_of: str = "2017-03-31") -> DecisionRecord:
    import datetime as dt

    return DecisionRecord(at=dt.datetime(2017, 4, 1), user_name="u", family_id=f"F{i}", hub=hub, decision=decision,
                          reason=None, model_version="7", as_of=as_of, band="high", previously_known=i % 2 == 0)


def test_small_cells_are_suppressed_and_cannot_be_recovered() -> None:
    records = [_rec(i, "Northfield", "disagree" if i < 5 else "offered_early_help") for i in range(30)]
    records += [_rec(100 + i, "Riverside", "offered_early_help") for i in range(3)]
    tables = decision_tables(records, threshold=10, hubs=("Northfield", "Riverside", "Eastgate"))
    north = next(c for c in tables.by_hub if c.group == "Northfield")
    river = next(c for c in tables.by_hub if c.group == "Riverside")
    assert north.decisions == 30 and north.offered_early_help == 25
    assert north.disagree is None and north.disagreement_rate is None and "disagree" in north.suppressed
    assert river.decisions is None and river.offered_early_help is None  # 3 < 10
    # Riverside's 3 must not be recoverable by difference: the total is hidden too, or another hub with it
    east = next(c for c in tables.by_hub if c.group == "Eastgate")
    assert tables.overall.decisions is None or east.decisions is None


def test_latest_decision_per_family_counts() -> None:
    records = [_rec(i, "Northfield", "disagree") for i in range(12)]
    records += [_rec(i, "Northfield", "offered_early_help") for i in range(12)]  # revised
    tables = decision_tables(latest_decisions(records), threshold=10, hubs=("Northfield",))
    north = tables.by_hub[0]
    assert north.decisions == 12 and north.offered_early_help == 12 and north.disagreement_rate is None


def test_governance_summary_endpoint(web: Web) -> None:
    scores = web.client.app.state.upstream.scores.scores
    lead = Principal("lead_north", "hub_lead", "Northfield")
    fam = scores.by_hub["Northfield"][0]
    for i in range(12):
        web.store.record_decision(lead, family_id=f"{fam.family_id}-{i}", hub="Northfield", decision="disagree",
                                  reason="r", model_version="7", as_of="2017-03-31", band="high",
                                  previously_known=True)
    r = web.client.get("/api/governance/summary", headers=web.auth("gov"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fairness_verdict"] == "pass" and body["small_cell_threshold"] == 10
    north = next(c for c in body["decisions"]["by_hub"] if c["group"] == "Northfield")
    assert north["decisions"] == 12 and north["disagreement_rate"] == 1.0
    text = json.dumps(body)
    assert fam.family_id not in text and "lead_north" not in text  # aggregates only
    assert web.client.get("/api/governance/summary", headers=web.auth("lead_north")).status_code == 403
