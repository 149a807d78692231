"""Who lives in the council: the first population, births, families moving in and out, UASC, leaving at 18."""

from __future__ import annotations

import numpy as np

from core.contract import ETHNICITY_CODES, NEED_CATEGORIES
from synthetic._calendar import add_years, first_day, random_days
from synthetic._episodes import close_all_plans, close_episode, open_episode
from synthetic._mechanism import Mechanism
from synthetic._recorder import DETAIL, SOURCE, Recorder
from synthetic._state import CHILD_DEFAULTS, CHILD_FIELDS, FAMILY_FIELDS, State, blank

ADULT_MONTHS = 216
DAYS_PER_MONTH = 365.25 / 12
_ETHNICITY_MIX = {
    "WBRI": 0.60, "WIRI": 0.008, "WIRT": 0.002, "WOTH": 0.045, "WROM": 0.005, "MWBC": 0.03, "MWBA": 0.01,
    "MWAS": 0.012, "MOTH": 0.018, "AIND": 0.03, "APKN": 0.06, "ABAN": 0.02, "AOTH": 0.015, "BCRB": 0.025,
    "BAFR": 0.05, "BOTH": 0.01, "CHNE": 0.006, "OOTH": 0.025, "REFU": 0.012, "NOBT": 0.017,
}
_UASC_MIX = {"AOTH": 0.35, "BAFR": 0.30, "OOTH": 0.20, "BOTH": 0.10, "MOTH": 0.05}
_ETH_INDEX = {code: i for i, code in enumerate(ETHNICITY_CODES)}


def _mix(table: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([_ETH_INDEX[c] for c in table], dtype=np.int8)
    p = np.array(list(table.values()))
    return codes, p / p.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _deciles(hubs: np.ndarray, n_hubs: int, rng: np.random.Generator, mech: Mechanism) -> np.ndarray:
    """Each hub has its own deprivation mix; the city as a whole leans deprived."""
    d = np.arange(1, 11)
    tilt = np.linspace(-mech.hub_tilt, mech.hub_tilt, n_hubs) if n_hubs > 1 else np.zeros(1)
    w = np.exp(-mech.deprivation_skew * (d - 1)[None, :] + tilt[:, None] * (d - 5.5)[None, :] / 4.5)
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(hubs))
    return (np.minimum((u[:, None] > cdf[hubs]).sum(axis=1), 9) + 1).astype(np.int8)


def new_families(n: int, rng: np.random.Generator, mech: Mechanism, n_hubs: int, *,
                 frailty_shift: float | np.ndarray = 0.0) -> dict[str, np.ndarray]:
    """Families with hidden state drawn near its long-run distribution."""
    f = blank(FAMILY_FIELDS, n)
    f["hub"] = rng.integers(0, n_hubs, n).astype(np.int8)
    f["decile"] = _deciles(f["hub"].astype(np.int64), n_hubs, rng, mech)
    codes, p = _mix(_ETHNICITY_MIX)
    f["eth"] = rng.choice(codes, size=n, p=p)
    f["active"][:] = True
    mu = mech.frailty_mean + mech.frailty_deprivation * (5.5 - f["decile"]) / 4.5 + frailty_shift
    f["frailty"] = (mu + rng.standard_normal(n)).astype(np.float32)
    vis = np.exp(mech.visibility_sd * rng.standard_normal(n) - mech.visibility_sd ** 2 / 2)
    f["vis"] = np.where(rng.random(n) < mech.invisible_share, 0.1, vis).astype(np.float32)
    if mech.low_visibility_codes:  # visibility bias by ethnic group (no extra random draws: same stream)
        seen_less = np.isin(f["eth"], mech.low_visibility_codes)
        f["vis"] = np.where(seen_less, f["vis"] * mech.low_visibility_factor, f["vis"]).astype(np.float32)
    z = f["frailty"]
    s = mech.w_frailty * z
    for name, (a, b), off, w in zip(("da", "sub", "mh", "hous"),
                                    (mech.da_onset, mech.sub_onset, mech.mh_onset, mech.hous_onset),
                                    (mech.da_exit, mech.sub_exit, mech.mh_exit, mech.hous_exit),
                                    mech.w_problems, strict=True):
        on = _sigmoid(a + b * z + mech.problem_coupling * 0.3)
        f[name] = rng.random(n) < on / (on + off)
        s = s + w * f[name]
    sd = mech.harm_noise / np.sqrt(1 - mech.harm_persistence ** 2)
    f["harm"] = (s + sd * rng.standard_normal(n)).astype(np.float32)
    return f


def new_children(fam_of: np.ndarray, fam: dict[str, np.ndarray], age_months: np.ndarray, m: int,
                 rng: np.random.Generator, mech: Mechanism) -> dict[str, np.ndarray]:
    """Children resident from month m, aged `age_months` (0 = born this month)."""
    n = len(fam_of)
    k = blank(CHILD_FIELDS, n, CHILD_DEFAULTS)
    k["fam"] = fam_of.astype(np.int32)
    k["dobm"] = (m - age_months).astype(np.int32)
    dim = first_day(k["dobm"] + 1) - first_day(k["dobm"])
    dob = first_day(k["dobm"]) + (rng.random(n) * dim).astype(np.int64)
    born_now = age_months == 0
    # someone born this month was born before they can be counted (their arrival is their birth)
    arr = np.where(born_now, dob, random_days(m, n, rng, avoid_last=True))
    arr = np.maximum(arr, dob)
    k["dob"], k["arr"] = dob.astype(np.int32), arr.astype(np.int32)
    k["b18m"] = k["dobm"] + ADULT_MONTHS
    k["b18d"] = add_years(dob, 18).astype(np.int32)
    u = rng.random(n)
    k["sex"] = np.select([u < 0.51, u < 0.995, u < 0.9955], [0, 1, 2], 3).astype(np.int8)
    nobt = rng.random(n) < 0.02
    k["eth"] = np.where(nobt, _ETH_INDEX["NOBT"], fam["eth"][fam_of]).astype(np.int8)
    k["dis"] = rng.random(n) < mech.disability_rate
    u = rng.random(n)
    # the recorded disability flag sees the hidden one imperfectly: 0 yes, 1 no, 2 unknown
    k["disrec"] = np.where(k["dis"], np.select([u < 0.75, u < 0.88], [0, 2], 1),
                           np.select([u < 0.02, u < 0.08], [0, 2], 1)).astype(np.int8)
    k["res"][:] = True
    k["quiet"][:] = m  # nothing is recorded about a child in the month they arrive
    return k


def _add(st: State, fam: dict[str, np.ndarray], kid: dict[str, np.ndarray]) -> None:
    fam["uid"] = np.arange(st.next_fam_uid, st.next_fam_uid + len(fam["uid"]), dtype=np.int64)
    kid["uid"] = np.arange(st.next_kid_uid, st.next_kid_uid + len(kid["uid"]), dtype=np.int64)
    st.next_fam_uid += len(fam["uid"])
    st.next_kid_uid += len(kid["uid"])
    st.add(fam, kid)


def _family_ages(n_fam: int, rng: np.random.Generator, mech: Mechanism) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and ages (months, < 18 years) of families' children: siblings spaced about two years apart."""
    sizes = rng.choice(np.arange(1, len(mech.family_sizes) + 1), size=n_fam,
                       p=np.array(mech.family_sizes) / sum(mech.family_sizes))
    fam_of = np.repeat(np.arange(n_fam), sizes)
    rank = np.arange(len(fam_of)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    centre = rng.uniform(0, ADULT_MONTHS, n_fam)[fam_of]
    gap = 14 + rng.gamma(2.0, 6.0, len(fam_of))
    ages = centre + (rank - (sizes[fam_of] - 1) / 2) * gap
    ok = (ages >= 0) & (ages < ADULT_MONTHS - 2)
    return fam_of[ok], ages[ok].astype(np.int32)


def move_in(st: State, n_fam: int, m: int, rng: np.random.Generator, mech: Mechanism, n_hubs: int) -> None:
    """Families moving into the area with their children this month (they carry the movers' frailty shift)."""
    fam_of, ages = _family_ages(n_fam, rng, mech)
    fam = new_families(n_fam, rng, mech, n_hubs, frailty_shift=mech.move_in_frailty_shift)
    has = np.zeros(n_fam, bool)
    has[fam_of] = True
    remap = np.cumsum(has) - 1
    fam = {k: v[has] for k, v in fam.items()}
    _add(st, fam, new_children(remap[fam_of], fam, ages, m, rng, mech))


def initial_population(target: int, m: int, rng: np.random.Generator, mech: Mechanism, n_hubs: int) -> State:
    """The people living in the area when the burn-in starts (month m), with their past: each family has lived here
    for a time drawn from the stationary law of the move-out rate (exponential), so children were born here or
    arrived with their family over the preceding years, and no month holds a spike of arrivals. A family that
    arrived after its oldest child was born moved in with children, and carries the movers' frailty shift, like
    families moving in later (docs/simulator.md, "Movers")."""
    st = State(fam=blank(FAMILY_FIELDS, 0), kid=blank(CHILD_FIELDS, 0, CHILD_DEFAULTS))
    mean_size = np.dot(np.arange(1, len(mech.family_sizes) + 1), mech.family_sizes) / sum(mech.family_sizes)
    n_fam = int(round(target / mean_size / 0.93))
    fam_of, ages = _family_ages(n_fam, rng, mech)
    here_days = rng.exponential(DAYS_PER_MONTH / mech.move_out_rate, n_fam)  # time lived here, in days
    oldest = np.zeros(n_fam)
    np.maximum.at(oldest, fam_of, ages)
    moved_with_children = here_days < oldest * DAYS_PER_MONTH
    fam = new_families(n_fam, rng, mech, n_hubs, frailty_shift=mech.move_in_frailty_shift * moved_with_children)
    has = np.zeros(n_fam, bool)
    has[fam_of] = True
    remap = np.cumsum(has) - 1
    fam = {k: v[has] for k, v in fam.items()}
    kid = new_children(remap[fam_of], fam, ages, m, rng, mech)
    came = (first_day(m) - here_days[fam_of]).astype(np.int64)  # the day the family arrived
    kid["arr"] = np.maximum(kid["dob"], np.minimum(came, kid["arr"])).astype(np.int32)  # born here, or came
    _add(st, fam, kid)
    return st


def departures(st: State, m: int, rng: np.random.Generator, mech: Mechanism, rec: Recorder | None) -> None:
    """Children leave on their 18th birthday (and leave care); some families move away (a child in care stays).

    Leaving on the birthday means no one is recorded as leaving on a month end (an as-of date) while under 18.
    """
    k, f = st.kid, st.fam
    adult = np.flatnonzero((k["res"] | k["incare"]) & (k["b18m"] <= m))
    if len(adult):
        day = k["b18d"][adult].astype(np.int32)
        close_all_plans(st, adult, day, m, rec)
        care = adult[k["incare"][adult]]
        close_episode(st, "la", care, day[k["incare"][adult]], m, rec)
        k["left"][adult] = day
        k["res"][adult] = False
        k["incare"][adult] = False
    movers = f["active"] & ~f["uasc"] & (rng.random(st.n_fam) < mech.move_out_rate)
    if movers.any():
        f["active"][movers] = False
        moving = movers[k["fam"]]
        leave = np.flatnonzero(moving & k["res"] & ~k["incare"])
        day = random_days(m, len(leave), rng, avoid_last=True)
        close_all_plans(st, leave, day, m, rec)
        k["left"][leave] = day
        k["res"][leave] = False
        k["fam_gone"][moving & k["incare"]] = True


def arrivals(st: State, m: int, rng: np.random.Generator, mech: Mechanism, target: int, n_hubs: int,
             rec: Recorder | None) -> None:
    """Births, families moving in and UASC; the numbers keep the population near its target size."""
    k, f = st.kid, st.fam
    here = k["res"] & ~k["incare"]
    current = int((k["res"] | k["incare"]).sum())
    mean_size = np.dot(np.arange(1, len(mech.family_sizes) + 1), mech.family_sizes) / sum(mech.family_sizes)
    # births
    n_births = rng.poisson(target / ADULT_MONTHS * np.clip(target / max(current, 1), 0.8, 1.25))
    counts = np.bincount(k["fam"][here], minlength=st.n_fam)
    youngest = np.full(st.n_fam, 10_000, dtype=np.int64)
    np.minimum.at(youngest, k["fam"][here], m - k["dobm"][here])
    eligible = np.flatnonzero(f["active"] & ~f["uasc"] & (counts >= 1) & (counts <= 5) & (youngest < 96))
    n_existing = min(rng.binomial(n_births, mech.births_to_existing_share), len(eligible))
    parents = rng.choice(eligible, size=n_existing, replace=False) if n_existing else np.zeros(0, np.int64)
    born = new_children(np.arange(n_existing), {"eth": f["eth"][parents]},
                        np.zeros(n_existing, np.int32), m, rng, mech)
    born["fam"] = parents.astype(np.int32)
    born["uid"] = np.arange(st.next_kid_uid, st.next_kid_uid + n_existing, dtype=np.int64)
    st.next_kid_uid += n_existing
    st.kid = {c: np.concatenate([v, born[c]]) for c, v in st.kid.items()}
    n_new = n_births - n_existing
    if n_new:
        fam = new_families(n_new, rng, mech, n_hubs)
        _add(st, fam, new_children(np.arange(n_new), fam, np.zeros(n_new, np.int32), m, rng, mech))
    # families moving in
    flow = mech.move_out_rate * current + 0.03 * (target - current)
    n_in = rng.poisson(max(flow, 0.0) / mean_size)
    if n_in:
        move_in(st, n_in, m, rng, mech, n_hubs)
    # unaccompanied asylum-seeking adolescents: they arrive and are looked after at once (N8)
    n_uasc = rng.poisson(mech.uasc_per_10k_year * target / 1e4 / 12)
    if n_uasc:
        fam = new_families(n_uasc, rng, mech, n_hubs)
        fam["uasc"][:] = True
        fam["frailty"][:], fam["harm"][:], fam["vis"][:] = -4.0, -5.0, 0.0
        for p in ("da", "sub", "mh", "hous"):
            fam[p][:] = False
        codes, p = _mix(_UASC_MIX)
        fam["eth"] = rng.choice(codes, size=n_uasc, p=p)
        ages = rng.integers(14 * 12, 17 * 12 + 6, n_uasc).astype(np.int32)
        kid = new_children(np.arange(n_uasc), fam, ages, m, rng, mech)
        kid["sex"] = np.where(rng.random(n_uasc) < 0.92, 0, 1).astype(np.int8)
        kid["uasc"][:], kid["incare"][:], kid["prev_care"][:] = True, True, True
        _add(st, fam, kid)
        rows = np.arange(st.n_kid - n_uasc, st.n_kid)
        day = st.kid["arr"][rows]
        if rec is not None:
            fam_uid, uid = st.fam["uid"][st.kid["fam"][rows]], st.kid["uid"][rows]
            src = np.where(rng.random(n_uasc) < 0.5, SOURCE["police"], SOURCE["other"])
            rec.add("contact", fam_uid, day, child=uid, source=src)
            rec.add("referral", fam_uid, day, child=uid, source=src)
        st.kid["last_ref"][rows] = m
        open_episode(st, "la", rows, day, m, rec, detail=np.full(n_uasc, DETAIL[NEED_CATEGORIES[7]]))
