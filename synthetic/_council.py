"""SimulatedCouncil: the simulator's output (contract tables plus ground truth) and writing it to disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core import io

TRUTH_COLUMNS = ("child_id", "as_of", "p_true", "p_true_se", "entered", "route")


@dataclass(frozen=True)
class SimulatedCouncil:
    """`children` and `events` are contract tables; `truth` is the oracle's risk and the realised outcome."""

    children: pd.DataFrame
    events: pd.DataFrame
    truth: pd.DataFrame
    start: pd.Timestamp          # first day the council's records cover
    end: pd.Timestamp            # last simulated day: the extract date
    seed: int
    # partner event type -> share of the agency's events that reached the extract (1.0 where absent)
    linkage: dict[str, float] = field(default_factory=dict)
    # a region (`simulate --councils N`): each council's code, name, size and mechanism shifts (ground truth)
    councils: tuple[dict, ...] = ()

    @property
    def extract_date(self) -> pd.Timestamp:
        return self.end

    def write(self, out_dir: str | Path) -> Path:
        """Write children.parquet, events.parquet and truth.parquet (each atomically) into out_dir, and for a
        region councils.json (how its councils differ).

        Parameters
        ----------
        out_dir : str or Path
            The directory (created if missing).

        Returns
        -------
        Path
            `out_dir`.
        """
        out = Path(out_dir)
        io.write_parquet(self.children, out / "children.parquet")
        io.write_parquet(self.events, out / "events.parquet")
        io.write_parquet(self.truth, out / "truth.parquet")
        if self.councils:
            io.write_json({"councils": list(self.councils)}, out / "councils.json")
        return out
