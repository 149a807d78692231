"""One forward run: a copy of the saved council, a policy and an effect size, month by month over the horizon.

Each month: the lists at the end of the previous month (features built from the records as they stand, for the
model and the rule), offers to eligible families at each hub's capacity, acceptance with probability `uptake`,
an offered early help episode for the accepted families' children at home (recorded, so next month's features see
it), then the simulator's own month. Random numbers:

- the simulation draws from the seed's stream, the same for every policy and effect of that seed (common random
  numbers); offered help enters it only through a factor on the entry probabilities, so with effect 0 every draw,
  and so every outcome, is the same for every policy;
- the policy's own randomness (acceptance, the random policy's picks, episode lengths) comes from streams keyed by
  (seed, month) and drawn for every family at once, so it never moves the simulation's stream and a family gets
  the same acceptance draw in every policy.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import KNOWN_TO_SOCIAL_CARE_TYPES
from features import Extract, build_features
from impact._policies import DECLINE_MONTHS, FEATURE_POLICIES, Cohort, capacities, choose
from synthetic import CouncilRun, close_offered_help, open_offered_help
from synthetic._calendar import add_years, month_end
from synthetic._recorder import ETYPE
from training.model import RiskModel

# stream keys: the forward simulation, and the policy's draws (acceptance, random picks, episode lengths)
_SIMULATION, _ACCEPT, _PICK, _LENGTH = 0x51A, 0xACC, 0x91C, 0x1E6


@dataclass(frozen=True)
class RunSpec:
    """One run: which future (seed), which policy, what effect, what capacity (times the configured one)."""

    seed: int
    policy: str
    effect: float
    capacity: float = 1.0


@dataclass
class RunOutcome:
    """What one run produced: offers and entries to care (arrays, one element per offer / entry) and the count
    of children looked after at the end."""

    spec: RunSpec
    offer_month: np.ndarray
    offer_family: np.ndarray  # family uid
    offer_hub: np.ndarray
    offer_accepted: np.ndarray
    offer_children: np.ndarray  # children whose episode opened (0 when declined)
    entry_month: np.ndarray
    entry_child: np.ndarray  # child uid
    entry_family: np.ndarray  # family uid
    entry_hub: np.ndarray
    entry_under5: np.ndarray
    entry_known: np.ndarray  # a social care record of the child before the entry (offered help not counted)
    looked_after_end: int
    # entries the offered help was expected to prevent, month by month along the run's path (before the draws)
    expected_averted: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def eligible_families(run: CouncilRun, declined_until: dict[int, int], month: int) -> np.ndarray:
    """Family rows with a child at home and none looked after or open to early help, a CIN or a CP plan (offered
    help included), and no offer declined within DECLINE_MONTHS."""
    st = run.st
    k = st.kid
    home = np.zeros(st.n_fam, dtype=bool)
    home[k["fam"][k["res"] & ~k["incare"]]] = True
    busy = np.zeros(st.n_fam, dtype=bool)
    busy[k["fam"][k["incare"] | k["eh"] | k["cin"] | k["cp"] | (k["offered_ev"] >= 0)]] = True
    ok = home & ~busy & st.fam["active"]
    if declined_until:
        uid = st.fam["uid"]
        until = np.array([declined_until.get(int(u), -1) for u in uid[ok]])
        ok[np.flatnonzero(ok)[until >= month]] = False
    return np.flatnonzero(ok)


def _uniforms(key: int, seed: int, spec_seed: int, month: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, key, spec_seed, month]).random(n)


def _features(run: CouncilRun, config: Config, model: RiskModel | None) -> pd.DataFrame:
    """The cohort's feature rows at the end of the run's month, from the records as they stand."""
    from serving.scoring import _scenario_extract

    council = run.tables()
    extract = Extract(children=council.children, events=council.events)
    if model is not None:
        extract = _scenario_extract(model, extract)
    as_of = month_end(run.m)
    return build_features(extract, [as_of], config, extract_date=as_of)


def forward(snapshot: CouncilRun, spec: RunSpec, *, months: int, uptake: float, config: Config,
            model: RiskModel | None, base_seed: int) -> RunOutcome:
    """Run `spec` for `months` months from a copy of `snapshot` (which is not changed).

    Parameters
    ----------
    snapshot : CouncilRun
        The council at the end of the start month.
    spec : RunSpec
        Seed, policy, effect and capacity multiplier.
    months : int
        The horizon.
    uptake : float
        The chance a family offered early help accepts it.
    config : Config
        Hubs and capacities, feature windows.
    model : RiskModel or None
        The model for the `model` policy.
    base_seed : int
        The study's seed; with `spec.seed` it keys every stream.

    Returns
    -------
    RunOutcome
    """
    timings = {"features": 0.0, "policy": 0.0, "simulate": 0.0}
    run = copy.deepcopy(snapshot)
    run.rng = np.random.default_rng([base_seed, _SIMULATION, spec.seed])
    run.mech = dataclasses.replace(run.mech, offered_help_effect=float(spec.effect))
    start, n0 = run.m, run.rec.n
    cap = capacities(config, spec.capacity)
    offers: dict[str, list[np.ndarray]] = {k: [] for k in ("month", "family", "hub", "accepted", "children")}
    offered_handles: list[np.ndarray] = []
    declined_until: dict[int, int] = {}
    for m in range(start + 1, start + months + 1):
        t0 = time.perf_counter()
        st = run.st
        feats = fam_ids = None
        if spec.policy in FEATURE_POLICIES:
            feats = _features(run, config, model if spec.policy == "model" else None)
            fam_ids = run.family_ids()
        t1 = time.perf_counter()
        cohort = Cohort(eligible=eligible_families(run, declined_until, m), hub=st.fam["hub"].astype(np.int64),
                        capacity=cap, features=feats, family_ids=fam_ids)
        n_uid = st.next_fam_uid
        keys = _uniforms(_PICK, base_seed, spec.seed, m, n_uid)[st.fam["uid"]]
        chosen = choose(spec.policy, cohort, keys=keys, model=model)
        accepted = _uniforms(_ACCEPT, base_seed, spec.seed, m, n_uid)[st.fam["uid"][chosen]] < uptake
        length_rng = np.random.default_rng([base_seed, _LENGTH, spec.seed, m])
        kids = open_offered_help(st, chosen[accepted], m, length_rng, run.rec, monthly_close=run.mech.eh_close)
        offered_handles.append(st.kid["offered_ev"][kids])
        for u in st.fam["uid"][chosen[~accepted]]:
            declined_until[int(u)] = m + DECLINE_MONTHS - 1
        n_kids = np.bincount(st.kid["fam"][kids], minlength=st.n_fam)
        offers["month"].append(np.full(len(chosen), m))
        offers["family"].append(st.fam["uid"][chosen])
        offers["hub"].append(st.fam["hub"][chosen].astype(np.int64))
        offers["accepted"].append(accepted)
        offers["children"].append(n_kids[chosen])
        t2 = time.perf_counter()
        run.advance(m)
        close_offered_help(run.st, m, run.rec)
        t3 = time.perf_counter()
        timings["features"] += t1 - t0
        timings["policy"] += t2 - t1
        timings["simulate"] += t3 - t2
    entries = _entries(run, n0, np.concatenate(offered_handles) if offered_handles else np.zeros(0, np.int64))
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in offers.items()}
    return RunOutcome(spec=spec, offer_month=cat["month"].astype(np.int64), offer_family=cat["family"].astype(np.int64),
                      offer_hub=cat["hub"].astype(np.int64), offer_accepted=cat["accepted"].astype(bool),
                      offer_children=cat["children"].astype(np.int64), **entries,
                      looked_after_end=int(run.st.kid["incare"].sum()),
                      expected_averted=run.st.offered_averted - snapshot.st.offered_averted, timings=timings)


def _entries(run: CouncilRun, n0: int, offered: np.ndarray) -> dict[str, np.ndarray]:
    """Entries to care recorded after handle n0: month, child, family, hub, under 5, previously known."""
    ev = run.rec.columns()
    la = np.flatnonzero(ev["etype"] == ETYPE["looked_after"])
    la = la[la >= n0]
    child, family, day = ev["child"][la], ev["fam"][la], ev["day"][la].astype(np.int64)
    month = (day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12)
    # date of birth and hub by child uid: children still in the state, and those archived when they left
    st = run.st
    uid = np.concatenate([st.kid["uid"], *[a["uid"] for a in st.archive]])
    dob = np.concatenate([st.kid["dob"], *[a["dob"] for a in st.archive]])
    hub = np.concatenate([st.fam["hub"][st.kid["fam"]], *[a["hub"] for a in st.archive]])
    at = np.full(st.next_kid_uid, -1, dtype=np.int64)
    at[uid] = np.arange(len(uid))
    rows = at[child]
    # known: any children's social care record of the child before the entry day, offered help left out
    known_type = np.isin(ev["etype"], [ETYPE[t] for t in KNOWN_TO_SOCIAL_CARE_TYPES])
    known_type[offered[offered >= 0]] = False
    kc, kd = ev["child"][known_type], ev["day"][known_type].astype(np.int64)
    first = np.full(run.st.next_kid_uid, np.iinfo(np.int64).max, dtype=np.int64)
    ok = kc >= 0
    np.minimum.at(first, kc[ok], kd[ok])
    return {"entry_month": month, "entry_child": child.astype(np.int64), "entry_family": family.astype(np.int64),
            "entry_hub": hub[rows].astype(np.int64), "entry_under5": day < add_years(dob[rows], 5),
            "entry_known": first[child] < day}
