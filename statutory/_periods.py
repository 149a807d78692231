"""Periods of care from 903 episodes (SPEC §5.4): de-duplication, the liia-tools repairs, cutting into periods.

One `looked_after` event per period of care (an entry to care), never one per episode.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from statutory._codes import RESPITE_LS
from statutory._read import Cand, Collected, Episode, year_end, year_start

ONE_DAY = dt.timedelta(days=1)
FINAL_RECS = frozenset({"E2", "E15"})  # died; age assessment found 18+: nothing may follow (437)


@dataclass
class Period:
    episodes: list[Episode]
    start: dt.date
    end: dt.date | None
    detail: str
    flags: list[str] = field(default_factory=list)


def build_periods(col: Collected) -> dict[str, list[Period]]:
    """Every child's periods of care; rejected children are recorded in `col.child_errors`."""
    report = col.report
    if not col.episodes:
        return {}
    latest_year = max(col.s903_years)
    first_year = min(col.s903_years)
    by_child: dict[str, list[Episode]] = {}
    for e in col.episodes:
        by_child.setdefault(e.child, []).append(e)
    out: dict[str, list[Period]] = {}
    for child, eps in by_child.items():
        if child in col.child_errors:
            continue
        eps = _dedupe(eps, report)
        dup = [e for e in by_child[child] if e.src.errors]
        if dup:
            col.reject_child(child, "DUP: two episodes start on the same day in one return")
            continue
        eps = _repair(eps, latest_year, report)
        problem = _within_return_checks(eps, report)
        if problem:
            col.reject_child(child, problem)
            for e in eps:
                e.src.error(problem.split(":")[0], problem.split(": ", 1)[1])
            continue
        out[child] = _cut(eps, first_year, latest_year, report)
    return out


def _dedupe(eps: list[Episode], report) -> list[Episode]:
    """Step 2: one row per (CHILD, DECOM); the latest year's copy wins."""
    best: dict[dt.date, Episode] = {}
    for e in sorted(eps, key=lambda e: e.year):
        prev = best.get(e.decom)
        if prev is not None:
            if prev.year == e.year:
                e.src.error("DUP", "two episodes of one child start on the same day in one return")
                continue
            if e.dec is None and prev.dec is not None:
                report.warn("DEDUP-OPEN", "latest return has the episode open though an earlier one closed it",
                            e.src)
            prev.src.rules.append("superseded_by_later_return")
        best[e.decom] = e
    kept = sorted(best.values(), key=lambda e: (e.decom, e.year))
    for e in eps:
        if e not in kept and not e.src.errors:
            e.src.fields["merged"] = True
    return kept


def _repair(eps: list[Episode], latest_year: int, report) -> list[Episode]:
    """Step 3: liia-tools' episodes_fix rules (stage 1: RULE_1, 1A, 2, 3, 3A; stage 2: RULE_4, 5)."""
    eps = sorted(eps, key=lambda e: (e.decom, e.year))
    drop: set[int] = set()
    for i, e in enumerate(eps):
        if e.dec is not None or e.year == latest_year:
            continue
        nxt = eps[i + 1] if i + 1 < len(eps) else None
        prv = eps[i - 1] if i > 0 else None
        if (nxt and nxt.dup_key == e.dup_key and nxt.decom != e.decom) or (
                prv and prv.dup_key == e.dup_key and prv.decom != e.decom):
            e.rule = "RULE_3"
            drop.add(i)
        elif prv is not None and prv.year > e.year:
            e.rule = "RULE_3A"
            drop.add(i)
        elif nxt is None:
            e.rule, e.dec, e.rec, e.imputed = "RULE_2", year_end(e.year), "E99", True
        elif nxt.rne == "S":
            e.rule, e.imputed = "RULE_1A", True
            e.dec, e.rec = min(year_end(e.year), nxt.decom - ONE_DAY), "E99"
        else:
            e.rule, e.dec, e.rec = "RULE_1", nxt.decom, "X1"
    for i, e in enumerate(eps):
        if e.rule:
            msg = {"RULE_1": "open episode closed at the next episode's start (X1)",
                   "RULE_1A": "open episode closed before the next period (end imputed)",
                   "RULE_2": "open episode closed at 31 March of its year (end imputed)",
                   "RULE_3": "open duplicate episode dropped",
                   "RULE_3A": "open episode replaced in a later return dropped"}[e.rule]
            report.warn(e.rule, f"liia-tools repair: {msg}", e.src)
            if i in drop:
                e.src.hold(f"{e.rule}: {msg}")
    eps = [e for i, e in enumerate(eps) if i not in drop]
    for a, b in zip(eps, eps[1:], strict=False):
        if a.year == b.year or a.dec is None:
            continue
        if a.dec > b.decom:
            a.dec, a.rule = b.decom, "RULE_4"
            report.warn("RULE_4", "liia-tools repair: episode end moved back to the next episode's start", a.src)
        elif a.rec == "X1" and a.dec < b.decom:
            a.dec, a.rule = b.decom, "RULE_5"
            report.warn("RULE_5", "liia-tools repair: gap after X1 closed at the next episode's start", a.src)
    return eps


def _within_return_checks(eps: list[Episode], report) -> str | None:
    """Step 4: what no repair can fix inside one year's return: 501 overlaps, 142 open non-last, 437."""
    by_year: dict[int, list[Episode]] = {}
    for e in eps:
        by_year.setdefault(e.year, []).append(e)
    for _year, ys in by_year.items():
        ys = sorted(ys, key=lambda e: e.decom)
        for a, b in zip(ys, ys[1:], strict=False):
            if a.dec is None:
                report.add("142", "E", "A non-last episode has no date ceased", a.src)
                return "142: a non-last episode of the child has no date ceased in one return"
            if b.decom < a.dec:
                report.add("501", "E", "A new episode has started before the end date of the previous episode",
                           b.src)
                return "501: a new episode starts before the previous one ends in one return"
            if a.rec in FINAL_RECS:
                report.add("437", "E", "Child died or found 18+ but further episodes follow", b.src)
                return "437: the child ceased (died / 18+) but further episodes follow in one return"
    return None


def _cut(eps: list[Episode], first_year: int, latest_year: int, report) -> list[Period]:
    """Steps 5-8: cut into periods, drop respite-only ones, flag left-censored starts."""
    periods: list[list[Episode]] = []
    prev: Episode | None = None
    for e in eps:
        new = (prev is None or e.rne == "S" or prev.rec != "X1" or prev.dec is None or e.decom > prev.dec)
        if new:
            periods.append([e])
        else:
            periods[-1].append(e)
        prev = e
    out = []
    for k, group in enumerate(periods):
        first = group[0]
        flags: list[str] = []
        if first.rne != "S":
            if k == 0 and first.decom < year_start(first_year):
                flags.append("left_censored")
            else:
                rule = "357" if k == 0 else "432"
                report.warn(rule, "A period of care starts with an episode not marked S (started to be "
                                  "looked after); a period is started anyway", first.src)
        last = group[-1]
        if last.rec == "X1" and last.dec is not None:
            report.warn("388", "The last episode ends X1 without a continuation: the period ends there", last.src)
        if all(e.ls in RESPITE_LS for e in group):
            for e in group:
                e.src.hold("short breaks (V3/V4) only: not an entry to care (Q5)")
            report.count("respite_periods_not_emitted")
            continue
        emitted = group
        if group[0].ls in RESPITE_LS:
            j = next(i for i, e in enumerate(group) if e.ls not in RESPITE_LS)
            emitted = group[j:]
            report.warn("RESPITE-START", "period starts with short breaks: it starts at the first other legal "
                                         "status", emitted[0].src)
        detail = emitted[0].cin
        if any(e.cin != detail for e in emitted):
            report.warn("504", "Category of need changes within a period of care (first one kept)", first.src)
        if any(e.imputed for e in group):
            flags.append("end_imputed")
            report.count("imputed_period_ends")
        if "left_censored" in flags:
            report.count("left_censored_periods")
        out.append(Period(group, emitted[0].decom, last.dec, detail, flags))
    return out


def period_candidates(col: Collected, periods: dict[str, list[Period]]) -> None:
    """Step 7 (Annex A List 8 fills a left-censored start) and step 8 (one event per period)."""
    list8_by_child: dict[str, list[Cand]] = {}
    for c in col.list8:
        list8_by_child.setdefault(c.child, []).append(c)
    for child, ps in periods.items():
        for p in ps:
            start = p.start
            if "left_censored" in p.flags:
                fill = [c for c in list8_by_child.get(child, []) if c.date <= start]
                if fill:
                    start = min(c.date for c in fill)
                    col.report.warn("LEFT-CENSORED-FILLED", "left-censored period start taken from Annex A List 8",
                                    p.episodes[0].src)
                    p.flags.remove("left_censored")
            c = Cand("looked_after", child, start, start.isoformat(), 2, (p.episodes[0].year,), p.episodes[0].src,
                     end=p.end, detail=p.detail, flags=list(p.flags))
            c.extra = [e.src for e in p.episodes[1:]]
            col.cands.append(c)
    # List 8 rows: emitted only where no 903 period covers them (§8.2)
    for child, cs in list8_by_child.items():
        ps = periods.get(child, [])
        for c in cs:
            covered = any(p.start <= c.date and (p.end is None or c.date <= p.end) for p in ps) or any(
                p.start == c.date for p in ps)
            if covered:
                c.src.rules.append("covered_by_903_period")
                c.src.fields["merged"] = True
                continue
            col.cands.append(c)
