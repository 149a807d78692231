"""Feed health: monthly counts per feed (event type x source) in the extract against the training reference.

Expected counts follow the reference's rate per resident child *for the same calendar month* (feeds are seasonal:
school feeds follow the terms), times the children resident in the month checked. A month is out of range when
the count lies beyond expected +- z sd (sd from the reference's own month-to-month spread, never below Poisson)
*and* differs from expected by at least `feed_min_change`. Alerts:

- `feed_drop` / `feed_surge`: a feed out of range in at least `feed_min_months` of the months checked, or
  over the latest `feed_pool_months` months (not late) summed — a steady fall too small for any one month;
- `feed_missing`: a feed, or a source of contacts and referrals, with no records at all in the latest
  `feed_min_months` months although the reference expects them;
- `empty_month`: a month of the extract with no records at all;
- `late_data`: one of the latest `late_months` months where *all feeds together* reach under
  `late_completeness` of expected and most feeds fall short together.

Late-arriving data is told apart from a real fall by its shape: records that arrive late are missing from every
feed at once and only in the latest months (the shortfall shrinks as the months age), while a feed that stops
falls on its own — the other feeds of the same month are complete — and stays down in months older than the
late window. Months flagged as late are therefore not counted towards a feed's drop; a feed that is down in
complete months is. The next monitoring run settles it: a late month fills in (`revised` says by how much).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from training.reference import month_code, month_codes, month_labels, monthly_counts, resident_children

SOURCE_SPLIT = ("contact", "referral")


def checked_months(last_date: pd.Timestamp, n: int) -> list[str]:
    """The latest `n` complete months up to the extract's last date (a month is complete at its last day)."""
    last = pd.Timestamp(last_date).normalize()
    end = last.to_period("M") if last.is_month_end else last.to_period("M") - 1
    return [str(p) for p in pd.period_range(end - (n - 1), end, freq="M")]


def _expected(reference: dict[str, Any], feeds: list[str], months: list[str], resident: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected counts, their sd and the reference total per feed, for each (feed, month)."""
    ref = reference["feed"]
    ref_months = pd.PeriodIndex(ref["months"], freq="M")
    ref_res = np.asarray(ref["resident_children"], dtype=np.float64)
    cal_ref = ref_months.month.to_numpy()
    cal_cur = pd.PeriodIndex(months, freq="M").month.to_numpy()
    exp = np.zeros((len(feeds), len(months)))
    var = np.zeros_like(exp)
    total = np.zeros(len(feeds))
    for i, feed in enumerate(feeds):
        counts = np.asarray(ref["counts"].get(feed, [0] * len(ref_months)), dtype=np.float64)
        total[i] = counts.sum()
        rate = counts / np.maximum(ref_res, 1.0)
        by_cal = {c: rate[cal_ref == c] for c in np.unique(cal_ref)}
        mean_cal = {c: float(r.mean()) for c, r in by_cal.items()}
        fitted = np.array([mean_cal[c] for c in cal_ref]) * ref_res
        dof = len(counts) - len(by_cal)
        spread = float(((counts - fitted) ** 2).sum() / dof) if dof > 0 else 0.0
        overall = float(rate.mean()) if len(rate) else 0.0
        for j, c in enumerate(cal_cur):
            k = len(by_cal.get(c, ()))
            e = (mean_cal[c] if k else overall) * resident[j]
            exp[i, j] = e
            var[i, j] = max(spread, e) * (1.0 + 1.0 / max(k, 1))
    return exp, np.sqrt(var), total


def feed_health(events: pd.DataFrame, children: pd.DataFrame, reference: dict[str, Any], config: Config, *,
                last_date: pd.Timestamp, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Feed health of an extract against a model's reference; JSON-ready, with its alerts.

    Parameters
    ----------
    events, children : DataFrame
        The extract's contract tables.
    reference : dict
        The model's monitoring reference (training.reference).
    last_date : Timestamp
        The extract's last date.
    previous : dict, optional
        The previous monitoring report's feed section: months it counted that are counted again here show how
        far they were revised (late records arriving).
    """
    mc = config.monitoring
    months = checked_months(last_date, mc.feed_months)
    counts = monthly_counts(events, months)
    feeds = sorted(set(reference["feed"]["counts"]) | set(counts.index))
    obs = counts.reindex(feeds, fill_value=0).to_numpy(dtype=np.float64)
    resident = resident_children(children, months).astype(np.float64)
    exp, sd, ref_total = _expected(reference, feeds, months, resident)
    tested = exp >= mc.feed_min_expected
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(exp > 0, obs / exp, np.nan)
    low = tested & (obs < exp - mc.feed_z * sd) & (ratio <= 1 - mc.feed_min_change)
    high = tested & (obs > exp + mc.feed_z * sd) & (ratio >= 1 + mc.feed_min_change)

    # Late-arriving data: all feeds together short in one of the latest months, most feeds short together.
    late_window = months[-mc.late_months:]
    completeness, late = {}, []
    for j, m in enumerate(months):
        t = tested[:, j]
        c = float(obs[t, j].sum() / exp[t, j].sum()) if t.any() else float("nan")
        completeness[m] = round(c, 4) if np.isfinite(c) else None
        median = float(np.nanmedian(ratio[t, j])) if t.any() else float("nan")
        if m in late_window and np.isfinite(c) and c < mc.late_completeness and median < mc.late_completeness:
            late.append(m)
    late_cols = np.isin(np.asarray(months), np.asarray(late))

    alerts: list[dict[str, Any]] = []
    rows = []
    # The pooled test: the latest `feed_pool_months` months not flagged as late, summed (a steady fall too small
    # to leave any single month's range still shows over a quarter).
    pool = np.flatnonzero(~late_cols)[-mc.feed_pool_months:]
    for i, feed in enumerate(feeds):
        lows = low[i] & ~late_cols
        highs = high[i] & ~late_cols
        o_p, e_p = obs[i, pool].sum(), exp[i, pool].sum()
        sd_p = float(np.sqrt((sd[i, pool] ** 2).sum()))
        pooled_low = bool(e_p >= mc.feed_min_expected * len(pool) and o_p < e_p - mc.feed_z * sd_p
                          and o_p <= (1 - mc.feed_min_change) * e_p)
        pooled_high = bool(e_p >= mc.feed_min_expected * len(pool) and o_p > e_p + mc.feed_z * sd_p
                           and o_p >= (1 + mc.feed_min_change) * e_p)
        if pooled_low:
            lows = lows | (np.isin(np.arange(len(months)), pool) & (obs[i] < exp[i]))
        if pooled_high:
            highs = highs | (np.isin(np.arange(len(months)), pool) & (obs[i] > exp[i]))
        status = "ok"
        if lows.sum() >= mc.feed_min_months or pooled_low:
            status = "drop"
        elif highs.sum() >= mc.feed_min_months or pooled_high:
            status = "surge"
        recent = slice(len(months) - mc.feed_min_months, len(months))
        missing = bool(obs[i, recent].sum() == 0 and exp[i, recent].sum() >= mc.feed_min_expected * mc.feed_min_months)
        if missing:
            status = "missing"
        row = {"feed": feed, "status": status, "observed": [int(x) for x in obs[i]],
               "expected": [round(float(x), 1) for x in exp[i]],
               "low_months": [m for m, f in zip(months, low[i] | (lows & ~late_cols), strict=True) if f],
               "high_months": [m for m, f in zip(months, high[i] | (highs & ~late_cols), strict=True) if f],
               "tested": bool(tested[i].any()), "reference_total": int(ref_total[i])}
        rows.append(row)
        if status == "missing":
            alerts.append({"kind": "feed_missing", "subject": feed,
                           "message": f"{feed}: no records in the latest {mc.feed_min_months} months "
                                      f"(expected about {exp[i, recent].sum():.0f})"})
        elif status in ("drop", "surge"):
            bad = [m for m, f in zip(months, lows if status == "drop" else highs, strict=True) if f]
            tot_o, tot_e = obs[i, np.isin(months, bad)].sum(), exp[i, np.isin(months, bad)].sum()
            alerts.append({"kind": f"feed_{status}", "subject": feed,
                           "message": f"{feed}: {status} in {len(bad)} month(s) ({', '.join(bad)}): "
                                      f"{tot_o:.0f} records against {tot_e:.0f} expected "
                                      f"({tot_o / tot_e - 1:+.0%})"})

    # Sources of contacts and referrals, summed over the two: a source that disappears.
    src_rows = []
    for source in sorted({f.split("/", 1)[1] for f in feeds if "/" in f}):
        idx = [i for i, f in enumerate(feeds) if f.split("/", 1)[0] in SOURCE_SPLIT and f.endswith("/" + source)]
        o, e = obs[idx].sum(axis=0), exp[idx].sum(axis=0)
        recent = slice(len(months) - mc.feed_min_months, len(months))
        gone = bool(o[recent].sum() == 0 and e[recent].sum() >= mc.feed_min_expected * mc.feed_min_months)
        src_rows.append({"source": source, "observed": [int(x) for x in o], "expected": [round(float(x), 1) for x in e],
                         "status": "missing" if gone else "ok"})
        if gone:
            alerts.append({"kind": "source_missing", "subject": source,
                           "message": f"source '{source}': no contacts or referrals in the latest "
                                      f"{mc.feed_min_months} months (expected about {e[recent].sum():.0f})"})

    # Months with no records at all, from the reference window's first month (older records are sparse
    # back-filled history, not a feed) to the last month checked.
    codes = month_codes(events["event_date"])
    empty: list[str] = []
    if len(codes):
        first = codes.min()
        start = pd.Period(reference["feed"]["months"][0], "M") if reference["feed"]["months"] else \
            pd.Period(year=int(first // 12), month=int(first % 12) + 1, freq="M")
        every = month_labels(start.to_timestamp(), pd.Period(months[-1], "M").to_timestamp())
        present = set(np.unique(codes).tolist())
        empty = [m for m in every if month_code(m) not in present]
    for m in empty:
        alerts.append({"kind": "empty_month", "subject": m, "message": f"{m}: no records at all in the extract"})
    for m in late:
        alerts.append({"kind": "late_data", "subject": m,
                       "message": f"{m}: all feeds together reach {completeness[m]:.0%} of expected and most feeds "
                                  "fall short together: records probably still arriving (feeds are not judged on "
                                  "this month; the next run shows whether it fills in)"})

    revised = {}
    if previous and previous.get("months"):
        before = dict(zip(previous["months"], previous.get("total_observed", []), strict=False))
        now = dict(zip(months, obs.sum(axis=0).tolist(), strict=True))
        revised = {m: int(now[m] - before[m]) for m in months if m in before and now[m] != before[m]}
    return {
        "months": months,
        "resident_children": [int(x) for x in resident],
        "total_observed": [int(x) for x in obs.sum(axis=0)],
        "total_expected": [round(float(x), 1) for x in exp.sum(axis=0)],
        "completeness": completeness,
        "late_months": late,
        "empty_months": empty,
        "revised_since_previous_run": revised,
        "feeds": rows,
        "sources": src_rows,
        "alerts": alerts,
        "rule": (f"expected = the reference's rate per resident child for the same calendar month x children "
                 f"resident; out of range beyond expected +- {mc.feed_z:g} sd and at least "
                 f"{mc.feed_min_change:.0%} off; a feed alerts after {mc.feed_min_months} such months outside "
                 f"late-data months; feeds expecting under {mc.feed_min_expected:g} a month are not tested"),
    }
