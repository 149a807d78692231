"""The council's records as the simulation writes them: compact numeric columns, made contract rows at the end."""

from __future__ import annotations

import numpy as np

from core.contract import CP_CATEGORIES, EVENT_TYPES, EXCLUSION_TYPES, NEED_CATEGORIES, SOURCES

ETYPE = {name: i for i, name in enumerate(EVENT_TYPES)}
SOURCE = {name: i for i, name in enumerate(SOURCES)}
# detail codes: fixed codes first; an assessment's factors are ASSESS_BASE + a bitmask over ASSESSMENT_FACTORS
FIXED_DETAILS: tuple[str, ...] = CP_CATEGORIES + NEED_CATEGORIES + EXCLUSION_TYPES
DETAIL = {name: i for i, name in enumerate(FIXED_DETAILS)}
ASSESS_BASE = 1000
# Children in Need census factor codes the mechanism can discover at assessment.
ASSESSMENT_FACTORS: tuple[str, ...] = ("1B", "2B", "3B", "4B", "6A", "10A", "11A", "14A", "16A", "19A")


def detail_text(codes: np.ndarray) -> np.ndarray:
    """Numeric detail codes -> object array of contract codes (None where missing)."""
    out = np.full(len(codes), None, dtype=object)
    for code in np.unique(codes):
        if code < 0:
            continue
        if code < ASSESS_BASE:
            text = FIXED_DETAILS[code]
        else:
            mask = int(code - ASSESS_BASE)
            text = ";".join(f for i, f in enumerate(ASSESSMENT_FACTORS) if mask >> i & 1) or None
        out[codes == code] = text
    return out


class Recorder:
    """Appends events month by month; episodes get a handle so their end date can be filled in later.

    Linkage is part of recording: a partner agency's event reaches the council's extract (with a key) with its
    feed's linkage probability, drawn from the recorder's own random stream. So linkage changes what the council
    holds and nothing else: the hidden state, the pathway (an agency that sees something may still phone the front
    door) and the oracle's p_true are the same whatever the linkage rates.
    """

    COLUMNS = ("child", "fam", "etype", "day", "source", "detail")

    def __init__(self, linkage: dict[str, float] | None = None, seed: int = 0) -> None:
        self._chunks: dict[str, list[np.ndarray]] = {c: [] for c in self.COLUMNS}
        self._ends: list[tuple[np.ndarray, np.ndarray]] = []
        self.n = 0
        self.points = False  # point events are recorded only once the council's system has started
        self.linkage = {t: float(r) for t, r in (linkage or {}).items() if r < 1.0}
        self._rng = np.random.default_rng([seed, 0x11AE])  # linkage's own stream: the simulation is unaffected

    def add(self, etype: str, fam: np.ndarray, day: np.ndarray, *, child: np.ndarray | None = None,
            source: np.ndarray | int | None = None, detail: np.ndarray | int | None = None,
            episode: bool = False) -> np.ndarray:
        """Record len(fam) events; returns their handles (episodes) or an empty array (dropped points)."""
        k = len(fam)
        if k == 0 or not (episode or self.points):
            return np.full(k, -1, dtype=np.int64)
        rate = self.linkage.get(etype)
        if rate is not None:  # a partner event that never reaches the extract with a key is not recorded
            keep = self._rng.random(k) < rate
            fam, day, k = fam[keep], day[keep], int(keep.sum())
            child = None if child is None else child[keep]
            source = source[keep] if isinstance(source, np.ndarray) else source
            detail = detail[keep] if isinstance(detail, np.ndarray) else detail
            if k == 0:
                return np.full(0, -1, dtype=np.int64)
        cols = {
            "child": np.full(k, -1, np.int64) if child is None else child.astype(np.int64),
            "fam": fam.astype(np.int64),
            "etype": np.full(k, ETYPE[etype], np.int8),
            "day": day.astype(np.int32),
            "source": np.full(k, -1, np.int8) if source is None else np.broadcast_to(source, (k,)).astype(np.int8),
            "detail": np.full(k, -1, np.int32) if detail is None else np.broadcast_to(detail, (k,)).astype(np.int32),
        }
        for c, v in cols.items():
            self._chunks[c].append(v)
        handles = np.arange(self.n, self.n + k, dtype=np.int64)
        self.n += k
        return handles

    def close(self, handles: np.ndarray, days: np.ndarray) -> None:
        ok = handles >= 0
        if ok.any():
            self._ends.append((handles[ok], np.asarray(days, dtype=np.int32)[ok]))

    def columns(self) -> dict[str, np.ndarray]:
        """All events so far as arrays (in handle order), with `end` (-1 while open)."""
        out = {c: (np.concatenate(v) if v else np.zeros(0, np.int64)) for c, v in self._chunks.items()}
        end = np.full(self.n, -1, dtype=np.int32)
        for handles, days in self._ends:
            end[handles] = days
        out["end"] = end
        return out
