"""The monthly step: the generative mechanism that moves the whole state (hidden and recorded) on by one month.

The same function runs the main simulation and the oracle's forward replicates. In a replicate, nobody's entry
to care is sampled: `survival` is multiplied by each child's (1 - monthly entry hazard) instead (Rao-Blackwellised),
which is exact because a child's entry changes nothing for anyone else in the mechanism. Sudden crises and partner
events, which change nothing but entries and contacts, are integrated out the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.contract import CP_CATEGORIES
from synthetic._calendar import days_in_month, first_day, random_days
from synthetic._episodes import close_all_plans, close_episode, open_episode
from synthetic._mechanism import Mechanism
from synthetic._population import departures
from synthetic._recorder import ASSESS_BASE, ASSESSMENT_FACTORS, DETAIL, SOURCE, Recorder
from synthetic._state import State

_F32 = np.float32
# contact sources, in the contract's order: police, school, health, la_services, individual, housing, other, unknown
_ENTRY_SOURCES_CRISIS = np.array([0.55, 0.05, 0.25, 0.03, 0.04, 0.02, 0.05, 0.01])
_ENTRY_SOURCES_OTHER = np.array([0.30, 0.15, 0.30, 0.05, 0.08, 0.02, 0.08, 0.02])
_FACTOR_BIT = {f: 1 << i for i, f in enumerate(ASSESSMENT_FACTORS)}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category (column index) per row of an (n, k) weight matrix."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(cum)) * cum[:, -1]
    return np.minimum((u[:, None] > cum).sum(axis=1), weights.shape[1] - 1)


def _days(m: int, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return random_days(m, len(rows), rng)


def step(st: State, m: int, rng: np.random.Generator, mech: Mechanism, *, rec: Recorder | None = None,
         survival: np.ndarray | None = None) -> None:
    """Advance the state through month m (people arriving in m are added afterwards, by the caller)."""
    departures(st, m, rng, mech, rec)
    p_crisis = _family_dynamics(st, rng, mech)
    k = st.kid
    now = _Now(age=m - k["dobm"], harm=st.fam["harm"][k["fam"]],
               here=k["res"] & ~k["incare"] & (k["quiet"] < m))
    _behaviour(st, rng, mech, now)
    _care_entries(st, m, rng, mech, p_crisis, rec, survival, now)
    _care_exits(st, m, rng, mech, rec)
    now.here &= ~k["incare"] & (k["quiet"] < m)
    _closures(st, m, rng, mech, rec)
    _partners_and_pathway(st, m, rng, mech, rec, now)


@dataclass
class _Now:
    """Per-child views computed once a month (full length, aligned with st.kid)."""

    age: np.ndarray   # months
    harm: np.ndarray  # the family's harm
    here: np.ndarray  # resident, not looked after, not arriving/leaving care this month

    yrs: np.ndarray = field(init=False)  # whole years, capped at 17

    def __post_init__(self) -> None:
        self.yrs = np.minimum(self.age // 12, 17)


def _family_dynamics(st: State, rng: np.random.Generator, mech: Mechanism) -> np.ndarray:
    """Hidden difficulties start and stop; harm drifts towards what they add up to; crises strike."""
    f, n = st.fam, st.n_fam
    z = f["frailty"]
    count = f["da"].astype(_F32) + f["sub"] + f["mh"] + f["hous"]
    target = mech.w_frailty * z
    for name, (a, b), off, w in zip(("da", "sub", "mh", "hous"),
                                    (mech.da_onset, mech.sub_onset, mech.mh_onset, mech.hous_onset),
                                    (mech.da_exit, mech.sub_exit, mech.mh_exit, mech.hous_exit),
                                    mech.w_problems, strict=True):
        cur = f[name]
        on = _sigmoid(a + b * z + mech.problem_coupling * (count - cur))
        u = rng.random(n, dtype=_F32)
        f[name] = np.where(cur, u >= off, u < on) & ~f["uasc"]
        target = target + _F32(w) * f[name]
    rho = mech.harm_persistence
    f["harm"] = (rho * f["harm"] + (1 - rho) * target
                 + mech.harm_noise * rng.standard_normal(n, dtype=_F32)).astype(_F32)
    f["harm"][f["uasc"]] = -5.0
    # the monthly chance of a sudden crisis (it is drawn, or integrated out in a replicate, by _care_entries)
    return f["active"] * (_F32(mech.crisis_base) * np.exp(_F32(mech.crisis_harm) * f["harm"]))


def _behaviour(st: State, rng: np.random.Generator, mech: Mechanism, now: _Now) -> None:
    """Adolescents' behaviour / exploitation risk, fed by the family's harm."""
    k = st.kid
    rows = np.flatnonzero(now.here & (now.age >= 120))
    cur = k["beh"][rows]
    a, b = mech.behaviour_onset
    x = (a + b * now.harm[rows] + _F32(mech.behaviour_male) * (k["sex"][rows] == 0)
         + _F32(mech.behaviour_13plus) * (now.age[rows] >= 156))
    u = rng.random(len(rows), dtype=_F32)
    k["beh"][rows] = np.where(cur, u >= mech.behaviour_exit, u < _sigmoid(x))


def _age_table(mech: Mechanism) -> np.ndarray:
    """Log-hazard of entering care by age in years, intercept included."""
    return (mech.entry_base + np.asarray(mech.entry_age)).astype(_F32)


def _flag_table(mech: Mechanism) -> np.ndarray:
    """Log-hazard terms for every combination of the seven flags packed by _care_entries."""
    code = np.arange(128)
    terms = (mech.entry_cp, mech.entry_cin, mech.entry_recent_referral, mech.entry_disability,
             mech.entry_behaviour, mech.entry_previous_care, mech.entry_early_help)
    return sum(((code >> i) & 1) * t for i, t in enumerate(terms)).astype(_F32)


def _offered_help(st: State, m: int, mech: Mechanism) -> np.ndarray | None:
    """Per child, the factor offered early help puts on the monthly chance of entering care (None: no effect).

    A factor on the probabilities the per-child uniforms are compared against, never a change in who is drawn
    for: with effect 0 (None) every draw of the month is exactly what it would have been without the offers."""
    if not mech.offered_help_effect:
        return None
    helped = (m - st.kid["offered_sm"]) < mech.offered_help_months
    return np.where(helped, _F32(1.0 - mech.offered_help_effect), _F32(1.0))


def _expected_averted(st: State, h: np.ndarray, helped: np.ndarray, p_crisis: np.ndarray, mech: Mechanism,
                      now: _Now) -> None:
    """Add to `st.offered_averted` the entries to care the offered help is expected to prevent this month: the
    chance of entering without it minus the chance with it, summed over the children it covers (before any draw,
    so the sum has none of the draws' noise)."""
    rows = np.flatnonzero(now.here & (helped < 1))
    if not len(rows):
        return
    q = np.where(now.yrs[rows] < 5, mech.crisis_entry_young, mech.crisis_entry_old) * p_crisis[st.kid["fam"][rows]]
    f = helped[rows].astype(np.float64)
    h0 = h[rows].astype(np.float64)
    without = 1 - (1 - h0) * (1 - q)
    with_help = 1 - (1 - h0 * f) * (1 - q * f)
    st.offered_averted += float((without - with_help).sum())


def _care_entries(st: State, m: int, rng: np.random.Generator, mech: Mechanism, p_crisis: np.ndarray,
                  rec: Recorder | None, survival: np.ndarray | None, now: _Now) -> None:
    k = st.kid
    here = now.here
    yrs = now.yrs
    # the recorded and hidden flags, packed into one code that indexes a table of log-hazard terms
    code = (k["cp"] * np.int8(1) | k["cin"] * np.int8(2) | (m - k["last_ref"] <= 12) * np.int8(4)
            | k["dis"] * np.int8(8) | k["beh"] * np.int8(16) | k["prev_care"] * np.int8(32)
            | (m - k["eh_last"] < 24) * np.int8(64))
    # exp(harm term) per family, exp(age and flag terms) from tables: no transcendental per child
    h = np.exp(_F32(mech.entry_harm) * st.fam["harm"])[k["fam"]]
    h *= np.exp(_age_table(mech))[yrs]
    h *= np.exp(_flag_table(mech))[code]
    np.minimum(h, _F32(mech.entry_cap), out=h)
    helped = _offered_help(st, m, mech)
    if helped is not None:
        if survival is None:
            _expected_averted(st, h, helped, p_crisis, mech, now)
        h *= helped
    if survival is not None:
        # a crisis changes nothing but who enters care, so a replicate integrates it out as well
        q = np.where(yrs < 5, _F32(mech.crisis_entry_young), _F32(mech.crisis_entry_old))
        if helped is not None:
            q = q * helped
        survival *= (1 - h * here) * (1 - q * p_crisis[k["fam"]] * here)
        return
    crisis = rng.random(st.n_fam, dtype=_F32) < p_crisis
    hit = np.flatnonzero(crisis[k["fam"]] & here)
    q = np.where(yrs[hit] < 5, mech.crisis_entry_young, mech.crisis_entry_old)
    el = np.flatnonzero(here)
    h = h[el]
    q_el = np.zeros(len(el))
    q_el[np.searchsorted(el, hit)] = q
    q = q_el if helped is None else q_el * helped[el]
    by_crisis = rng.random(len(el)) < q
    enter = by_crisis | (rng.random(len(el)) < h)
    rows, by_crisis = el[enter], by_crisis[enter]
    if not len(rows):
        return
    # siblings taken into care in the same month go on the same day
    day = random_days(m, st.n_fam, rng)[k["fam"][rows]]
    need = _need(st, rows, by_crisis, rng, mech)
    on_plan = k["cp"][rows] | k["cin"][rows]
    if rec is not None:  # an entry not planned through a CP/CIN plan arrives as a same-day contact and referral
        fresh = ~on_plan
        src = np.where(by_crisis[fresh], _pick(rng, np.tile(_ENTRY_SOURCES_CRISIS, (fresh.sum(), 1))),
                       _pick(rng, np.tile(_ENTRY_SOURCES_OTHER, (fresh.sum(), 1))))
        fam_uid, uid = st.fam["uid"][k["fam"][rows[fresh]]], k["uid"][rows[fresh]]
        rec.add("contact", fam_uid, day[fresh], child=uid, source=src)
        rec.add("referral", fam_uid, day[fresh], child=uid, source=src)
    k["last_ref"][rows[~on_plan]] = m
    close_all_plans(st, rows, day, m, rec)
    open_episode(st, "la", rows, day, m, rec, detail=DETAIL["N1"] + need)
    k["incare"][rows] = True
    k["prev_care"][rows] = True
    k["quiet"][rows] = m


def _need(st: State, rows: np.ndarray, by_crisis: np.ndarray, rng: np.random.Generator,
          mech: Mechanism) -> np.ndarray:
    """Category of need N1..N8 (0..7): the main reason a social worker would record, from the hidden state."""
    k, f = st.kid, st.fam
    fi = k["fam"][rows]
    w = np.where(by_crisis[:, None], np.asarray(mech.need_crisis), np.asarray(mech.need_base)[None, :])
    w = w.copy()
    w[:, 1] += mech.need_disability * k["dis"][rows]
    w[:, 2] += mech.need_parent_illness * (f["mh"][fi] | f["sub"][fi])
    w[:, 3] += mech.need_housing * f["hous"][fi]
    w[:, 4] += mech.need_domestic_abuse * f["da"][fi]
    w[:, 5] += mech.need_behaviour * k["beh"][rows]
    return _pick(rng, w).astype(np.int32)


def _care_exits(st: State, m: int, rng: np.random.Generator, mech: Mechanism, rec: Recorder | None) -> None:
    """Children go home, are adopted or otherwise leave care; those whose family has moved away leave too."""
    k = st.kid
    rows = np.flatnonzero(k["incare"] & (k["la_sm"] < m) & ~k["uasc"])
    rate = np.where(k["la_sm"][rows] - k["dobm"][rows] < 12, mech.care_exit_infant, mech.care_exit_rate)
    out = rows[rng.random(len(rows)) < rate]
    day = random_days(m, len(out), rng, avoid_last=True)
    close_episode(st, "la", out, day, m, rec)
    k["incare"][out] = False
    k["quiet"][out] = m
    gone = k["fam_gone"][out] | ~st.fam["active"][k["fam"][out]]
    k["res"][out[gone]] = False
    k["left"][out[gone]] = day[gone]


def _closures(st: State, m: int, rng: np.random.Generator, mech: Mechanism, rec: Recorder | None) -> None:
    """Episodes end; plans step down (CP -> CIN -> early help) and early help sometimes steps up."""
    k = st.kid
    here = k["res"] & ~k["incare"]
    harm = st.fam["harm"]
    rows = np.flatnonzero(here & k["eh"] & (k["eh_sm"] < m))
    done = rows[rng.random(len(rows)) < mech.eh_close]
    day = _days(m, done, rng)
    close_episode(st, "eh", done, day, m, rec)
    a, b = mech.eh_step_up
    up = rng.random(len(done)) < _sigmoid(a + b * harm[k["fam"][done]])
    st.step_up = (done[up], day[up])  # picked up as contacts from early help (la_services) this month

    rows = np.flatnonzero(here & k["cin"] & (k["cin_sm"] < m))
    done = rows[rng.random(len(rows)) < mech.cin_close]
    day = _days(m, done, rng)
    close_episode(st, "cin", done, day, m, rec)
    down = rng.random(len(done)) < mech.cin_step_down
    open_episode(st, "eh", done[down], day[down], m, rec)

    rows = np.flatnonzero(here & k["cp"] & (k["cp_sm"] < m))
    done = rows[rng.random(len(rows)) < mech.cp_close]
    day = _days(m, done, rng)
    close_episode(st, "cp", done, day, m, rec)
    u = rng.random(len(done))
    to_cin = u < mech.cp_step_down_cin
    to_eh = ~to_cin & (u < mech.cp_step_down_cin + mech.cp_step_down_eh)
    open_episode(st, "cin", done[to_cin], day[to_cin], m, rec)
    open_episode(st, "eh", done[to_eh], day[to_eh], m, rec)


def _partners_and_pathway(st: State, m: int, rng: np.random.Generator, mech: Mechanism,
                          rec: Recorder | None, now: _Now) -> None:
    """Partner agencies see hidden state imperfectly; some of what they see becomes a contact.

    In the main simulation each partner event is sampled (and recorded) and a contact may follow from it.
    A replicate records nothing, so it passes the events' probabilities instead of sampled indicators to the
    same contact formula: E[prod(1 - c * x)] = prod(1 - c * p) for independent events, so each child's chance
    of a contact - all that its future depends on - is exactly the same.
    """
    k, f = st.kid, st.fam
    here, yrs, fam = now.here, now.yrs, k["fam"]
    harm_f, vis_f = f["harm"], f["vis"]

    # household level: adults' difficulties, seen by police, adult services and housing
    fam_here = np.zeros(st.n_fam, bool)
    fam_here[fam[here]] = True
    fam_here &= f["active"]
    fx = {}
    for etype, (base, per), flag, seen in (
            ("domestic_abuse_notification", mech.da_notification, "da", True),
            ("adult_mental_health", mech.adult_mh_service, "mh", True),
            ("adult_substance_misuse", mech.adult_sub_service, "sub", True),
            ("homelessness", mech.homelessness, "hous", False)):
        p = (_F32(base) + _F32(per) * f[flag]) * fam_here
        if seen:
            p *= vis_f
        if rec is None:
            fx[etype] = p
        else:
            hit = rng.random(st.n_fam, dtype=_F32) < p
            rows = np.flatnonzero(hit)
            rec.add(etype, f["uid"][rows], random_days(m, len(rows), rng))
            fx[etype] = hit.astype(_F32)
    c = {name: _F32(v) for name, v in (
        ("da", mech.contact_da), ("miss", mech.contact_missing), ("off", mech.contact_offence),
        ("hv", mech.contact_hv), ("ae", mech.contact_ae), ("adult", mech.contact_adult_services),
        ("abs", mech.contact_absence), ("exc", mech.contact_exclusion), ("hom", mech.contact_homeless))}
    # P(no contact) through each household-level channel, and from direct concerns (harm and visibility are
    # household-level too): combined per family, so each child needs one gather
    a, b = mech.contact_direct
    no_fam = {
        "police": 1 - c["da"] * fx["domestic_abuse_notification"],
        "health": 1 - c["adult"] * (1 - (1 - fx["adult_mental_health"]) * (1 - fx["adult_substance_misuse"])),
        "housing": 1 - c["hom"] * fx["homelessness"],
        "direct": np.exp(-vis_f * np.exp(_F32(a) + _F32(b) * harm_f)),
    }
    no_contact = (no_fam["police"] * no_fam["health"] * no_fam["housing"] * no_fam["direct"])[fam]

    # child level: each agency sees only the children it works with; x is 0 elsewhere
    x = _child_partner_probabilities(st, m, mech, now)
    if rec is not None:
        for etype, p in x.items():
            hit = rng.random(st.n_kid, dtype=_F32) < p
            rows = np.flatnonzero(hit)
            detail = None
            if etype == "school_exclusion":
                detail = np.where(rng.random(len(rows)) < mech.permanent_share, DETAIL["permanent"],
                                  DETAIL["suspension"])
            rec.add(etype, f["uid"][fam[rows]], _days(m, rows, rng), child=k["uid"][rows], detail=detail)
            x[etype] = hit.astype(_F32)
    channel_of = {"missing_episode": ("police", c["miss"]), "youth_offence": ("police", c["off"]),
                  "ae_attendance": ("health", c["ae"]), "health_visitor_concern": ("health", c["hv"]),
                  "school_persistent_absence": ("school", c["abs"]), "school_exclusion": ("school", c["exc"])}
    for etype, xe in x.items():
        no_contact *= 1 - channel_of[etype][1] * xe
    rows = np.flatnonzero(here & (rng.random(st.n_kid, dtype=_F32) >= no_contact))
    src = np.full(len(rows), SOURCE["unknown"], np.int8)
    if rec is not None:  # who made the contact matters only to the records
        no_ch = {name: v[fam[rows]] for name, v in no_fam.items()}
        no_ch["school"] = np.ones(len(rows), _F32)
        for etype, xe in x.items():
            name, cc = channel_of[etype]
            no_ch[name] *= 1 - cc * xe[rows]
        order = ("police", "health", "school", "housing", "direct")
        channel = _pick(rng, np.stack([1 - no_ch[name] for name in order], axis=1))
        direct_src = _pick(rng, np.tile(np.asarray(mech.direct_sources), (len(rows), 1)))
        direct_src[(yrs[rows] < 5) & (direct_src == SOURCE["school"])] = SOURCE["health"]
        src = np.choose(channel, [SOURCE["police"], SOURCE["health"], SOURCE["school"], SOURCE["housing"],
                                  direct_src]).astype(np.int8)
    up_rows, up_days = st.step_up
    keep = ~np.isin(rows, up_rows)
    rows = np.concatenate([rows[keep], up_rows])
    src = np.concatenate([src[keep], np.full(len(up_rows), SOURCE["la_services"], np.int8)])
    forced = np.concatenate([np.zeros(keep.sum(), bool), np.ones(len(up_rows), bool)])
    day = np.concatenate([_days(m, rows[: keep.sum()], rng), up_days]).astype(np.int32)
    _triage(st, m, rows, day, src, forced, rng, mech, rec)


def _child_partner_probabilities(st: State, m: int, mech: Mechanism, now: _Now) -> dict[str, np.ndarray]:
    """Monthly probability of each child-level partner event (full length; 0 where the agency cannot see the child)."""
    k, f = st.kid, st.fam
    here, age, yrs, fam, harm = now.here, now.age, now.yrs, k["fam"], now.harm
    beh, male = k["beh"], k["sex"] == 0
    older = here & (age >= 120)
    vis = f["vis"][fam]
    a, b = mech.hv_concern
    p = {
        "missing_episode": older * vis * (_F32(mech.missing[0]) + _F32(mech.missing[1]) * beh),
        "youth_offence": older * (_F32(mech.youth_offence[0]) * (male + _F32(1)) + _F32(mech.youth_offence[1]) * beh),
        "ae_attendance": here * np.exp(_F32(mech.ae_harm) * f["harm"])[fam]
        * (_F32(mech.ae_scale) * np.asarray(mech.ae_age, _F32))[yrs],
        "health_visitor_concern": (here & (age < 60)) * (f["vis"] * np.exp(_F32(a) + _F32(b) * f["harm"]))[fam],
    }
    month_of_year = m % 12
    if month_of_year in (3, 6, 11):  # end of the spring, summer and autumn terms
        a, b, c = mech.absence
        p["school_persistent_absence"] = (here & (yrs >= 5) & (yrs <= 15)) \
            * _sigmoid(_F32(a) + _F32(b) * harm + _F32(c) * beh)
    if month_of_year != 7:  # no school in August
        a, b, c, d = mech.exclusion
        p["school_exclusion"] = (here & (yrs >= 5)) \
            * _sigmoid(_F32(a) + _F32(b) * harm + _F32(c) * beh + _F32(d) * male)
    return p


def _triage(st: State, m: int, rows: np.ndarray, day: np.ndarray, src: np.ndarray, forced: np.ndarray,
            rng: np.random.Generator, mech: Mechanism, rec: Recorder | None) -> None:
    """The front door: contact -> referral -> assessment -> NFA / CIN plan / section 47 -> CP plan; or early help."""
    k, f = st.kid, st.fam
    n = len(rows)
    fi = k["fam"][rows]
    harm = f["harm"][fi]
    if rec is not None:
        rec.add("contact", f["uid"][fi], day, child=k["uid"][rows], source=src)
    open_case = k["cin"][rows] | k["cp"][rows]
    recent = m - k["last_ref"][rows] <= 12
    a, b = mech.referral
    p_ref = _sigmoid(a + b * harm + mech.referral_early_help * k["eh"][rows] + mech.referral_recent * recent)
    ref = ~open_case & (forced | (rng.random(n) < p_ref))
    # below the threshold: an offer of early help, more often for the youngest (children's centres)
    a, b, c = mech.early_help
    young = (m - k["dobm"][rows]) < 60
    new_eh = (~open_case & ~ref & ~k["eh"][rows] & (k["eh_em"][rows] < m)
              & (rng.random(n) < _sigmoid(a + b * harm + c * young)))
    open_episode(st, "eh", rows[new_eh], day[new_eh], m, rec)

    r, rday, rsrc, rharm = rows[ref], day[ref], src[ref], harm[ref]
    if rec is not None:
        rec.add("referral", f["uid"][k["fam"][r]], rday, child=k["uid"][r], source=rsrc)
    k["last_ref"][r] = m
    assessed = rng.random(len(r)) < mech.assessment_rate
    r, rday, rharm = r[assessed], rday[assessed], rharm[assessed]
    last = int(first_day(m) + days_in_month(m) - 1)
    aday = np.minimum(rday + rng.integers(0, 11, len(r)), last).astype(np.int32)
    if rec is not None:
        rec.add("assessment", f["uid"][k["fam"][r]], aday, child=k["uid"][r],
                detail=_factors(st, r, rharm, rng, mech))
    a, b = mech.section47
    s47 = rng.random(len(r)) < _sigmoid(a + b * rharm)
    if rec is not None:
        rec.add("section_47", f["uid"][k["fam"][r[s47]]], aday[s47], child=k["uid"][r[s47]])
    a, b = mech.cp_given_s47
    cp = s47 & (k["cp_em"][r] < m) & (rng.random(len(r)) < _sigmoid(a + b * rharm))
    cp_rows = r[cp]
    cp_day = np.minimum(aday[cp] + rng.integers(0, 16, len(cp_rows)), last).astype(np.int32)
    close_all_plans(st, cp_rows, cp_day, m, rec)
    open_episode(st, "cp", cp_rows, cp_day, m, rec, detail=_cp_category(st, cp_rows, rng))
    a, b = mech.cin_plan
    cin = ~cp & (k["cin_em"][r] < m) & (rng.random(len(r)) < _sigmoid(a + b * rharm + 1.0 * s47))
    close_episode(st, "eh", r[cin], aday[cin], m, rec)
    open_episode(st, "cin", r[cin], aday[cin], m, rec)
    nfa = ~cp & ~cin & ~k["eh"][r] & (k["eh_em"][r] < m) & (rng.random(len(r)) < mech.step_down_nfa)
    open_episode(st, "eh", r[nfa], aday[nfa], m, rec)


def _factors(st: State, rows: np.ndarray, harm: np.ndarray, rng: np.random.Generator,
             mech: Mechanism) -> np.ndarray:
    """What an assessment finds: the hidden difficulties, each seen with some probability."""
    k, f = st.kid, st.fam
    fi = k["fam"][rows]
    n = len(rows)
    beh, female = k["beh"][rows], k["sex"][rows] == 1
    found = {
        "1B": f["sub"][fi] & (rng.random(n) < mech.factor_seen[0]),
        "2B": f["sub"][fi] & (rng.random(n) < mech.factor_seen[1]),
        "3B": f["da"][fi] & (rng.random(n) < mech.factor_seen[2]),
        "4B": f["mh"][fi] & (rng.random(n) < mech.factor_seen[3]),
        "6A": k["dis"][rows] & (rng.random(n) < 0.6), "10A": beh & (rng.random(n) < 0.4),
        "11A": beh & female & (rng.random(n) < 0.25), "14A": beh & (rng.random(n) < 0.5),
        "16A": rng.random(n) < _sigmoid(2.0 * (harm - 1.8)),
        "19A": (f["da"][fi] | f["mh"][fi]) & (rng.random(n) < 0.2),
    }
    mask = np.zeros(n, np.int32)
    for code, hit in found.items():
        mask |= hit * _FACTOR_BIT[code]
    return np.where(mask > 0, ASSESS_BASE + mask, -1).astype(np.int32)


def _cp_category(st: State, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category of abuse for a child protection plan, from the family's hidden difficulties."""
    k, f = st.kid, st.fam
    fi = k["fam"][rows]
    da, sub, mh = f["da"][fi], f["sub"][fi], f["mh"][fi]
    ones = np.ones(len(rows))
    weights = {"neglect": 2.2 + 2.0 * sub + 1.5 * (f["harm"][fi] > 1.5), "physical": 0.6 * ones,
               "sexual": 0.22 * ones, "emotional": 0.6 + 2.6 * da + 0.6 * mh, "multiple": 0.2 + 0.2 * (da & sub)}
    w = np.stack([weights[c] for c in CP_CATEGORIES], axis=1)
    return (DETAIL[CP_CATEGORIES[0]] + _pick(rng, w)).astype(np.int32)
