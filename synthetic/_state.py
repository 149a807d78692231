"""The simulator's full state: one numpy array per attribute, over families and over children.

Everything the mechanism knows lives here (hidden state included), so a copy of it is a saved state from which
the oracle can simulate forward with the same step function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NO = -1          # missing day / handle
NEVER = -10_000  # a month long before anything

# name -> dtype, for families and for children
FAMILY_FIELDS: dict[str, type] = {
    "uid": np.int64, "hub": np.int8, "decile": np.int8, "eth": np.int8, "active": np.bool_, "uasc": np.bool_,
    "frailty": np.float32, "vis": np.float32, "harm": np.float32,
    "da": np.bool_, "sub": np.bool_, "mh": np.bool_, "hous": np.bool_,
}
CHILD_FIELDS: dict[str, type] = {
    "uid": np.int64, "fam": np.int32, "dob": np.int32, "dobm": np.int32, "b18m": np.int32, "b18d": np.int32,
    "sex": np.int8, "eth": np.int8, "dis": np.bool_, "disrec": np.int8, "arr": np.int32, "left": np.int32,
    "res": np.bool_, "incare": np.bool_, "uasc": np.bool_, "fam_gone": np.bool_, "quiet": np.int32,
    "beh": np.bool_, "prev_care": np.bool_, "last_ref": np.int32, "eh_last": np.int32,
    # open episodes: flag, recorder handle, start day, start month, end month of the last one
    "eh": np.bool_, "eh_ev": np.int64, "eh_sd": np.int32, "eh_sm": np.int32, "eh_em": np.int32,
    "cin": np.bool_, "cin_ev": np.int64, "cin_sd": np.int32, "cin_sm": np.int32, "cin_em": np.int32,
    "cp": np.bool_, "cp_ev": np.int64, "cp_sd": np.int32, "cp_sm": np.int32, "cp_em": np.int32,
    "la_ev": np.int64, "la_sd": np.int32, "la_sm": np.int32,
    # early help offered from outside the mechanism (synthetic/_offers.py): start month, recorder handle while
    # open, planned end day. Read only by the offered-help term of the entry hazard, never by the pathway.
    "offered_sm": np.int32, "offered_ev": np.int64, "offered_end": np.int32,
}
CHILD_DEFAULTS: dict[str, int] = {
    "left": NO, "quiet": NEVER, "last_ref": NEVER, "eh_last": NEVER,
    "eh_ev": NO, "eh_sd": NO, "eh_sm": NEVER, "eh_em": NEVER,
    "cin_ev": NO, "cin_sd": NO, "cin_sm": NEVER, "cin_em": NEVER,
    "cp_ev": NO, "cp_sd": NO, "cp_sm": NEVER, "cp_em": NEVER,
    "la_ev": NO, "la_sd": NO, "la_sm": NEVER,
    "offered_sm": NEVER, "offered_ev": NO, "offered_end": NO,
}
# What the children table needs of a child who has gone (kept when the state sheds them).
ARCHIVE_FIELDS = ("uid", "fam_uid", "hub", "decile", "dob", "sex", "eth", "disrec", "arr", "left")


def blank(fields: dict[str, type], n: int, defaults: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    defaults = defaults or {}
    return {k: np.full(n, defaults.get(k, 0), dtype=t) for k, t in fields.items()}


@dataclass
class State:
    fam: dict[str, np.ndarray]
    kid: dict[str, np.ndarray]
    next_fam_uid: int = 0
    next_kid_uid: int = 0
    archive: list[dict[str, np.ndarray]] = field(default_factory=list)
    # children whose early help closed this month with a step-up to social care, and the day (step-internal)
    step_up: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0, np.int32)))
    # entries to care that offered early help was expected to prevent so far (synthetic/_offers.py)
    offered_averted: float = 0.0

    @property
    def n_fam(self) -> int:
        return len(self.fam["uid"])

    @property
    def n_kid(self) -> int:
        return len(self.kid["uid"])

    def add(self, fam: dict[str, np.ndarray], kid: dict[str, np.ndarray]) -> None:
        """Append new families and their children (kid['fam'] indexes the new families, 0-based)."""
        kid = dict(kid)
        kid["fam"] = (kid["fam"] + self.n_fam).astype(np.int32)
        self.fam = {k: np.concatenate([v, fam[k]]) for k, v in self.fam.items()}
        self.kid = {k: np.concatenate([v, kid[k]]) for k, v in self.kid.items()}

    def shed(self) -> None:
        """Move children who have left to the archive, and drop families with no children left."""
        keep = self.kid["res"] | self.kid["incare"]
        gone = ~keep
        if gone.any():
            fi = self.kid["fam"][gone]
            self.archive.append({
                "uid": self.kid["uid"][gone], "fam_uid": self.fam["uid"][fi], "hub": self.fam["hub"][fi],
                "decile": self.fam["decile"][fi], **{k: self.kid[k][gone] for k in ARCHIVE_FIELDS[4:]}})
        self.kid = {k: v[keep] for k, v in self.kid.items()}
        fam_keep = np.zeros(self.n_fam, dtype=bool)
        fam_keep[self.kid["fam"]] = True
        remap = np.cumsum(fam_keep) - 1
        self.fam = {k: v[fam_keep] for k, v in self.fam.items()}
        self.kid["fam"] = remap[self.kid["fam"]].astype(np.int32)

    def replicate(self, kid_rows: np.ndarray, copies: int) -> State:
        """A state holding only the given children (and their families), tiled `copies` times.

        Children are reordered by family; each copy holds them in the same order.
        """
        kid_rows = kid_rows[np.argsort(self.kid["fam"][kid_rows], kind="stable")]  # siblings together: fast gathers
        fam_rows, fam_of = np.unique(self.kid["fam"][kid_rows], return_inverse=True)
        nf = len(fam_rows)
        fam = {k: np.tile(v[fam_rows], copies) for k, v in self.fam.items()}
        kid = {k: np.tile(v[kid_rows], copies) for k, v in self.kid.items()}
        kid["fam"] = (np.tile(fam_of, copies) + np.repeat(np.arange(copies) * nf, len(kid_rows))).astype(np.int32)
        return State(fam=fam, kid=kid)
