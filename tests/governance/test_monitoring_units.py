"""Monitoring building blocks with hand-made inputs: PSI, feed health (drops, late data, empty months), decisions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.config import load_config
from governance.monitoring import after_decisions, feed_health, listed_children
from training.reference import bin_edges, bin_shares, monthly_counts, psi, resident_children

FEEDS = {("contact", "police"): 40, ("contact", "school"): 30, ("domestic_abuse_notification", None): 60,
         ("referral", "police"): 12, ("ae_attendance", None): 80, ("missing_episode", None): 25}


def _events(months: pd.PeriodIndex, *, seed: int = 0, rates: dict | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for m in months:
        start = m.to_timestamp()
        for (etype, source), rate in (rates or FEEDS).items():
            n = rng.poisson(rate)
            days = rng.integers(0, m.days_in_month, n)
            rows += [(etype, source, start + pd.Timedelta(days=int(d))) for d in days]
    ev = pd.DataFrame(rows, columns=["event_type", "source", "event_date"])
    ev["family_id"] = [f"F{i % 500:04d}" for i in range(len(ev))]
    return ev


def _children(n: int = 5000) -> pd.DataFrame:
    return pd.DataFrame({"child_id": [f"C{i}" for i in range(n)], "date_of_birth": pd.Timestamp("2008-01-01"),
                         "arrived_on": pd.Timestamp("2008-01-01"), "left_on": pd.NaT})


@pytest.fixture(scope="module")
def world() -> dict:
    config = load_config()
    ref_months = pd.period_range("2014-04", "2016-03", freq="M")
    events = _events(pd.period_range("2014-04", "2017-03", freq="M"))
    children = _children()
    counts = monthly_counts(events, [str(m) for m in ref_months])
    reference = {"feed": {"months": [str(m) for m in ref_months],
                          "resident_children": resident_children(children, [str(m) for m in ref_months]).tolist(),
                          "counts": {f: row.tolist() for f, row in zip(counts.index, counts.to_numpy(), strict=True)}}}
    return {"config": config, "events": events, "children": children, "reference": reference,
            "last": pd.Timestamp("2017-03-31")}


def _alerts(report: dict) -> list[tuple[str, str]]:
    return sorted((a["kind"], a["subject"]) for a in report["alerts"])


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(1)
    ref = rng.poisson(1.0, 20_000).astype(float)
    edges = bin_edges(ref)
    assert edges[0] == 0.0  # the mass at 0 gets a bin of its own
    same = psi(bin_shares(ref, edges), bin_shares(rng.poisson(1.0, 20_000).astype(float), edges))
    moved = psi(bin_shares(ref, edges), bin_shares(rng.poisson(0.3, 20_000).astype(float), edges))
    assert same < 0.01 < 0.25 < moved
    with_missing = bin_shares(np.array([0.0, np.nan, 2.0, np.nan]), edges)
    assert with_missing[-1] == pytest.approx(0.5) and with_missing.sum() == pytest.approx(1.0)


def test_psi_by_hand() -> None:
    ref, cur = [0.5, 0.5], [0.25, 0.75]
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert psi(ref, cur) == pytest.approx(expected)


def test_an_unchanged_feed_raises_nothing(world: dict) -> None:
    report = feed_health(world["events"], world["children"], world["reference"], world["config"],
                         last_date=world["last"])
    assert report["alerts"] == []
    assert report["months"][0] == "2016-04" and report["months"][-1] == "2017-03"
    assert all(0.85 < c < 1.15 for c in report["completeness"].values())


def test_police_feeds_that_stop_for_six_months_alert_by_name(world: dict) -> None:
    ev = world["events"]
    stop = (ev["event_date"] > "2016-09-30") & ((ev["source"] == "police")
                                                | (ev["event_type"] == "domestic_abuse_notification"))
    report = feed_health(ev[~stop], world["children"], world["reference"], world["config"], last_date=world["last"])
    kinds = _alerts(report)
    assert ("feed_missing", "contact/police") in kinds
    assert ("feed_missing", "domestic_abuse_notification") in kinds
    assert ("source_missing", "police") in kinds
    assert not any("school" in s or "ae_attendance" in s for _, s in kinds)
    police = next(f for f in report["feeds"] if f["feed"] == "contact/police")
    assert police["low_months"] == [f"2016-{m}" for m in (10, 11, 12)] + [f"2017-0{m}" for m in (1, 2, 3)]


def test_a_halved_feed_is_a_drop_and_a_doubled_one_a_surge(world: dict) -> None:
    ev = world["events"]
    rng = np.random.default_rng(3)
    recent = ev["event_date"] > "2016-12-31"
    drop = recent & (ev["event_type"] == "ae_attendance") & (rng.random(len(ev)) < 0.5)
    extra = ev[recent & (ev["event_type"] == "missing_episode")]
    report = feed_health(pd.concat([ev[~drop], extra, extra]), world["children"], world["reference"],
                         world["config"], last_date=world["last"])
    assert _alerts(report) == [("feed_drop", "ae_attendance"), ("feed_surge", "missing_episode")]


def test_late_arriving_records_are_told_apart_from_a_fall(world: dict) -> None:
    """The last two months hold 60% and 30% of their records across every feed: late data, not feed drops."""
    ev = world["events"]
    rng = np.random.default_rng(4)
    month = ev["event_date"].dt.to_period("M").astype(str)
    keep_share = month.map({"2017-02": 0.6, "2017-03": 0.3}).fillna(1.0).to_numpy()
    late = ev[rng.random(len(ev)) < keep_share]
    report = feed_health(late, world["children"], world["reference"], world["config"], last_date=world["last"])
    assert _alerts(report) == [("late_data", "2017-02"), ("late_data", "2017-03")]
    # the same shortfall in one feed only, over months outside the late window, is a drop
    police_gone = (ev["source"] == "police") & (month >= "2016-11").to_numpy() & (rng.random(len(ev)) < 0.7)
    report = feed_health(ev[~police_gone], world["children"], world["reference"], world["config"],
                         last_date=world["last"])
    assert ("feed_drop", "contact/police") in _alerts(report)
    assert not any(k == "late_data" for k, _ in _alerts(report))


def test_a_month_without_records_alerts(world: dict) -> None:
    ev = world["events"]
    report = feed_health(ev[ev["event_date"].dt.to_period("M").astype(str) != "2015-07"], world["children"],
                         world["reference"], world["config"], last_date=world["last"])
    assert ("empty_month", "2015-07") in _alerts(report)


def test_listed_children_follow_the_serving_list_rule() -> None:
    from serving.lists import rank_families

    config = load_config()
    rng = np.random.default_rng(0)
    n = 3000
    fam = rng.integers(0, 1200, n)
    rows = pd.DataFrame({"child_id": [f"C{i}" for i in range(n)], "family_id": [f"F{f:04d}" for f in fam],
                         "hub": np.asarray(config.council.hub_names)[fam % 8], "age_years": 5,
                         "previously_known": False, "probability": rng.beta(0.5, 20, n),
                         "as_of": pd.Timestamp("2016-03-31")})
    rows.loc[rows.index[:3], "probability"] = 0.7  # above the list threshold, beyond capacity
    families = rank_families(rows, config)
    expected = rows["family_id"].isin(set(families.loc[families["listed"], "family_id"])).to_numpy()
    assert (listed_children(rows, config) == expected).all()


def test_outcomes_after_decisions_are_counted_and_small_cells_hidden() -> None:
    config = load_config()
    hubs = config.council.hub_names
    rows, events = [], []
    for i in range(240):
        hub = hubs[i % 2]  # two hubs only: the other six are empty
        decision = ("offered_early_help", "not_needed", "already_open", "disagree")[i % 4 if i < 200 else 0]
        rows.append({"family_id": f"F{i}", "hub": hub, "decision": decision, "at": pd.Timestamp("2015-04-02"),
                     "as_of": "2015-03-31"})
        if i % 3 == 0:
            events.append({"family_id": f"F{i}", "event_type": "referral", "event_date": pd.Timestamp("2015-06-01")})
        if i % 5 == 0:  # outside the horizon: not counted
            events.append({"family_id": f"F{i}", "event_type": "looked_after",
                           "event_date": pd.Timestamp("2016-06-01")})
    rows.append({"family_id": "F0", "hub": hubs[0], "decision": "disagree", "at": pd.Timestamp("2015-04-09"),
                 "as_of": "2015-03-31"})  # a revision: the latest decision counts
    rows.append({"family_id": "F999", "hub": hubs[0], "decision": "disagree", "at": pd.Timestamp("2017-01-09"),
                 "as_of": "2016-12-31"})  # horizon still open
    out = after_decisions(pd.DataFrame(rows), pd.DataFrame(events), config, extract_date=pd.Timestamp("2017-03-31"))
    assert out["matured"] == 240 and out["pending"] == 1
    assert "not a causal estimate" in out["warning"].lower()
    total = next(r for r in out["rows"] if r["hub"] == "all" and r["decision"] == "all")
    assert total["families"] == 240 and total["referral"] == 80
    assert total["looked_after"] is None and "looked_after" in total["suppressed"]  # 0 is under 10: hidden
    for r in out["rows"]:
        for k in ("families", "referral", "cp_plan", "looked_after"):
            assert r[k] is None or r[k] == 0 or r[k] >= 10 or k != "families" or r["families"] >= 10
            if r[k] is not None and 0 < r[k] < 10:
                pytest.fail(f"a count under 10 is shown: {r}")
    json.dumps(out)  # JSON-ready


def test_outcome_labels_follow_the_label_rule() -> None:
    from governance.monitoring._outcomes import outcome_labels

    rows = pd.DataFrame({"child_id": ["a", "a", "b", "c"],
                         "as_of": pd.to_datetime(["2015-03-31", "2016-03-31", "2015-03-31", "2016-12-31"])})
    events = pd.DataFrame({"child_id": ["a", "b", None], "family_id": "F", "event_type": "looked_after",
                           "event_date": pd.to_datetime(["2015-06-01", "2015-03-31", "2015-06-01"])})
    y = outcome_labels(rows, events, event_type="looked_after", horizon_months=12,
                       extract_date=pd.Timestamp("2017-03-31"))
    # in (as_of, as_of + 12 months]; an entry on the as-of date itself is not in the window; an open window is NA
    assert y[:3].tolist() == [1, 0, 0] and pd.isna(y[3])
