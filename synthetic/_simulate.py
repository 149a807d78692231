"""simulate(): run the simulated council month by month and turn its records into the contract tables and truth."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
import pandas as pd
from tqdm import tqdm

from core.config import Config
from core.contract import DISABILITY_CODES, EPISODE_EVENT_TYPES, ETHNICITY_CODES, EVENT_TYPES, SEX_CODES, SOURCES
from core.errors import UpstreamError
from synthetic._calendar import first_day, month_end, parse_month, to_datetime
from synthetic._council import SimulatedCouncil
from synthetic._mechanism import Mechanism
from synthetic._oracle import Oracle
from synthetic._population import arrivals, initial_population
from synthetic._recorder import ETYPE, Recorder, detail_text
from synthetic._state import ARCHIVE_FIELDS, State
from synthetic._step import step

# Years simulated before the start, unrecorded, so the council already has children in care and on plans.
BURN_IN_YEARS = 10
AS_OF_EVERY = 3  # as-of dates are quarterly, anchored at the last simulated month end


def truth_months(m_start: int, m_end: int, horizon: int, count: int) -> list[int]:
    """The `count` latest quarterly as-of months whose horizon ends inside the simulated period."""
    months = [m for m in range(m_end, m_start - 1, -AS_OF_EVERY) if m + horizon <= m_end]
    return sorted(months[:count])


def with_visibility_bias(mech: Mechanism, group: str, factor: float) -> Mechanism:
    """The mechanism with partner agencies seeing the families of one broad ethnic group `factor` times as often."""
    import dataclasses

    from core.contract import ETHNICITY_CODES, ethnic_group

    codes = tuple(i for i, code in enumerate(ETHNICITY_CODES) if ethnic_group(code) == group)
    return dataclasses.replace(mech, low_visibility_codes=codes, low_visibility_factor=float(factor))


def simulate(config: Config, *, children: int | None = None, seed: int | None = None,
             start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None,
             progress: bool = False, mechanism: Mechanism | None = None, truth: bool = True,
             workers: int | None = None) -> SimulatedCouncil:
    """Simulate the council from `start` to `end` (YYYY-MM, inclusive) with about `children` children resident.

    Defaults come from `config.simulation`; hubs from `config.council.hubs`. `truth=False` skips the oracle
    (the contract tables are unchanged: the oracle has its own random stream). The oracle's replicates run on
    `workers` processes beside the main simulation (default: up to 2; 0 or 1 runs them inline); the output
    does not depend on it.

    Parameters
    ----------
    config : Config
        Hubs, the outcome's horizon and the `simulation` defaults.
    children : int, optional
        About how many children are resident at any time. Default: `config.simulation.children`.
    seed : int, optional
        Default: `config.simulation.seed`.
    start, end : str or Timestamp, optional
        First and last simulated months (YYYY-MM). Default: `config.simulation.start` / `.end`.
    progress : bool
        Show progress bars.
    mechanism : Mechanism, optional
        The generative model's parameters. Default: `Mechanism()`.
    truth : bool
        Compute the oracle's ground truth.
    workers : int, optional
        Processes for the oracle's replicates.

    Returns
    -------
    SimulatedCouncil
        `.children` and `.events` (contract tables) and `.truth`.
    """
    run = CouncilRun.start(config, children=children, seed=seed, start=start, end=end, mechanism=mechanism)
    horizon = config.outcome.horizon_months
    want = set(truth_months(run.m0, run.m1, horizon, config.simulation.truth_dates)) if truth else set()
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    with ExitStack() as stack:
        executor = None
        if want and workers > 1:
            executor = stack.enter_context(ProcessPoolExecutor(workers, mp_context=get_context("fork")))
        oracle = Oracle(run.mech, run.seed, config.simulation.replicates, horizon, executor)
        run.advance(run.m1, progress=progress, each=lambda m: oracle.submit(run.st, m) if m in want else None)
        parts = oracle.results(progress=progress)
    return run.tables(parts)


@dataclass
class CouncilRun:
    """A simulated council in progress: its state, records and random stream at the end of month `m`.

    `simulate` runs one from the burn-in to the end. A study that acts on the council (upstream impact) starts
    one, advances it to a month, copies it (`copy.deepcopy`: state, records and stream together) and advances
    each copy on: every copy then draws exactly what the original would have drawn, month by month.
    """

    config: Config
    st: State
    rec: Recorder
    rng: np.random.Generator
    mech: Mechanism
    target: int
    seed: int
    mb: int  # first burn-in month (unrecorded)
    m0: int  # first recorded month
    m1: int  # the configured last month
    m: int  # the last month simulated so far

    @classmethod
    def start(cls, config: Config, *, children: int | None = None, seed: int | None = None,
              start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None,
              mechanism: Mechanism | None = None) -> CouncilRun:
        """The council before its burn-in (arguments as for `simulate`)."""
        sim = config.simulation
        target = sim.children if children is None else int(children)
        if target <= 0:
            raise UpstreamError(f"--children must be positive, got {target}")
        seed = sim.seed if seed is None else int(seed)
        m0 = parse_month(start if start is not None else sim.start, "start")
        m1 = parse_month(end if end is not None else sim.end, "end")
        if m1 < m0:
            raise UpstreamError(f"end ({end or sim.end}) is before start ({start or sim.start})")
        mech = mechanism or Mechanism()
        if sim.visibility_bias is not None:
            mech = with_visibility_bias(mech, sim.visibility_bias.group, sim.visibility_bias.factor)
        rng = np.random.default_rng(seed)
        mb = m0 - 12 * BURN_IN_YEARS
        st = initial_population(target, mb, rng, mech, len(config.council.hub_names))
        rec = Recorder(config.data_sharing.linkage, seed)
        return cls(config=config, st=st, rec=rec, rng=rng, mech=mech, target=target, seed=seed, mb=mb, m0=m0,
                   m1=m1, m=mb - 1)

    def advance(self, to: int, *, progress: bool = False, each: Callable[[int], None] | None = None) -> None:
        """Simulate the months after `m` up to and including `to` (`each(month)` after each one)."""
        n_hubs = len(self.config.council.hub_names)
        for m in tqdm(range(self.m + 1, to + 1), disable=not progress, desc="simulating", unit="month"):
            self.rec.points = m >= self.m0
            step(self.st, m, self.rng, self.mech, rec=self.rec)
            arrivals(self.st, m, self.rng, self.mech, self.target, n_hubs, self.rec)
            self.m = m
            if each is not None:
                each(m)
            if (m - self.mb) % 12 == 11:
                self.st.shed()

    def tables(self, parts: list | None = None) -> SimulatedCouncil:
        """The contract tables (and the oracle's `parts` as truth) as the records stand at the end of month `m`.

        The state is not changed: a run can be read every month and go on exactly as it would have."""
        return _tables(self.st, self.rec, parts or [], self.config.council.hub_names, self.m0, self.m,
                       self.config.outcome.horizon_months, self.seed, dict(self.config.data_sharing.linkage))

    def child_ids(self) -> np.ndarray:
        """The pseudonymous child_id of every child row of the state (as in `tables`)."""
        return _ids("C", self.st.kid["uid"], self.st.next_kid_uid, self.seed)[self.st.kid["uid"]]

    def family_ids(self) -> np.ndarray:
        """The pseudonymous family_id of every family row of the state (as in `tables`)."""
        return _ids("F", self.st.fam["uid"], self.st.next_fam_uid, self.seed)[self.st.fam["uid"]]


def _ids(prefix: str, uids: np.ndarray, size: int, seed: int) -> np.ndarray:
    """uid -> pseudonymous id string; None for uids not kept.

    The id is a keyed hash (BLAKE2b, key from the seed) of the creation index, so it carries no order: neither when
    someone arrived nor anything that goes with it (risk included) can be read from an identifier.
    """
    key = f"upstream-simulated-council:{seed}".encode()
    lookup = np.full(size, None, dtype=object)
    ids = [prefix + hashlib.blake2b(int(u).to_bytes(8, "little"), digest_size=6, key=key).hexdigest()
           for u in uids]
    if len(set(ids)) != len(ids):  # 48 bits: about 1 in 50,000 for a default council; refuse rather than merge
        raise UpstreamError(f"two {prefix} identifiers collided; simulate with another seed")
    lookup[uids] = ids
    return lookup


def _tables(st: State, rec: Recorder, parts: list, hubs: tuple[str, ...], m0: int, m1: int, horizon: int,
            seed: int, linkage: dict[str, float]) -> SimulatedCouncil:
    start_day = int(first_day(m0))
    # children who have left are in the archive or still in the state (until its next shed): both are read, the
    # state is not changed
    arch = {c: np.concatenate([a[c] for a in st.archive]) if st.archive else np.zeros(0, np.int64)
            for c in ARCHIVE_FIELDS}
    k = st.kid
    fi = k["fam"]
    now = {"uid": k["uid"], "fam_uid": st.fam["uid"][fi], "hub": st.fam["hub"][fi],
           "decile": st.fam["decile"][fi], **{c: k[c] for c in ARCHIVE_FIELDS[4:]}}
    ch = {c: np.concatenate([arch[c], now[c]]) for c in ARCHIVE_FIELDS}
    keep = (ch["left"] < 0) | (ch["left"] >= start_day)  # resident at some time since the records began
    ch = {c: v[keep] for c, v in ch.items()}
    order = np.argsort(ch["uid"], kind="stable")
    ch = {c: v[order] for c, v in ch.items()}
    child_id = _ids("C", ch["uid"], st.next_kid_uid, seed)
    fams = np.unique(ch["fam_uid"])
    family_id = _ids("F", fams, st.next_fam_uid, seed)
    children = pd.DataFrame({
        "child_id": child_id[ch["uid"]],
        "family_id": family_id[ch["fam_uid"]],
        "date_of_birth": to_datetime(ch["dob"]),
        "sex": np.asarray(SEX_CODES, dtype=object)[ch["sex"]],
        "ethnicity": np.asarray(ETHNICITY_CODES, dtype=object)[ch["eth"]],
        "disability": np.asarray(DISABILITY_CODES, dtype=object)[ch["disrec"]],
        "hub": np.asarray(hubs, dtype=object)[ch["hub"]],
        "deprivation_decile": pd.array(ch["decile"].astype(np.int64), dtype="Int64"),
        "arrived_on": to_datetime(ch["arr"]),
        "left_on": to_datetime(ch["left"]),
    }).sort_values("child_id", ignore_index=True)  # rows in no meaningful order either

    ev = rec.columns()
    episode = np.isin(ev["etype"], [ETYPE[t] for t in EPISODE_EVENT_TYPES])
    keep = (ev["day"] >= start_day) | (episode & ((ev["end"] < 0) | (ev["end"] >= start_day)))
    handle = np.flatnonzero(keep)
    ev = {c: v[keep] for c, v in ev.items()}
    order = np.lexsort((handle, ev["day"]))
    ev = {c: v[order] for c, v in ev.items()}
    n = len(order)
    child = np.full(n, None, dtype=object)
    has_child = ev["child"] >= 0
    child[has_child] = child_id[ev["child"][has_child]]
    source = np.full(n, None, dtype=object)
    has_source = ev["source"] >= 0
    source[has_source] = np.asarray(SOURCES, dtype=object)[ev["source"][has_source]]
    events = pd.DataFrame({
        "event_id": [f"E{i:08d}" for i in range(1, n + 1)],
        "family_id": family_id[ev["fam"]],
        "child_id": child,
        "event_type": np.asarray(EVENT_TYPES, dtype=object)[ev["etype"]],
        "event_date": to_datetime(ev["day"]),
        "end_date": to_datetime(ev["end"]),
        "source": source,
        "detail": detail_text(ev["detail"]),
    })
    truth = _truth(parts, ev, child_id, horizon)
    return SimulatedCouncil(children=children, events=events, truth=truth,
                            start=pd.Timestamp(np.datetime64(start_day, "D")), end=month_end(m1), seed=seed,
                            linkage=linkage)


def _truth(parts: list, ev: dict[str, np.ndarray], child_id: np.ndarray, horizon: int) -> pd.DataFrame:
    """Oracle rows plus the realised outcome, read from the main simulation's own care entries."""
    if not parts:
        return pd.DataFrame({"child_id": pd.Series(dtype=object), "as_of": pd.Series(dtype="datetime64[ns]"),
                             "p_true": pd.Series(dtype=float), "p_true_se": pd.Series(dtype=float),
                             "entered": pd.Series(dtype=bool), "route": pd.Series(dtype=object)})
    months = np.concatenate([np.full(len(u), m) for m, u, _, _ in parts])
    uid = np.concatenate([u for _, u, _, _ in parts])
    la = ev["etype"] == ETYPE["looked_after"]
    e_uid, e_day, e_need = ev["child"][la], ev["day"][la].astype(np.int64), ev["detail"][la]
    order = np.lexsort((e_day, e_uid))
    e_uid, e_day, e_need = e_uid[order], e_day[order], e_need[order]
    shift = 1 << 22
    keys = e_uid * shift + e_day
    as_of_day = first_day(months + 1) - 1
    horizon_end = first_day(months + 1 + horizon) - 1
    idx = np.searchsorted(keys, uid * shift + as_of_day, side="right")  # first entry after the as-of date
    idx_c = np.minimum(idx, max(len(keys) - 1, 0))
    entered = (idx < len(keys)) & (e_uid[idx_c] == uid) & (e_day[idx_c] <= horizon_end) if len(keys) \
        else np.zeros(len(uid), bool)
    route = np.full(len(uid), None, dtype=object)
    if entered.any():
        route[entered] = detail_text(e_need[idx_c[entered]])
    return pd.DataFrame({
        "child_id": child_id[uid],
        "as_of": to_datetime(as_of_day),
        "p_true": np.concatenate([p for _, _, p, _ in parts]),
        "p_true_se": np.concatenate([s for _, _, _, s in parts]),
        "entered": entered,
        "route": route,
    })
